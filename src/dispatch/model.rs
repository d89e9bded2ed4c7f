//! A trained classifier: vocabulary, classes, weights; training, ranking with reasons,
//! a compact binary form for the database, and honest evaluation (held-out split,
//! k-fold cross-validation, accuracy, macro-F1, per-class F1, confusion matrix).

use serde::{Deserialize, Serialize};

use super::linear::{self, Example, Weights};
use super::text::{self, Kind, Vocab};

/// A labelled text (a seed file row or a confirmed message).
#[derive(Debug, Clone)]
pub struct Labelled {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub weight: f32,
}

/// How many terms the vocabulary keeps at most, and in how many texts a term must occur.
pub const MAX_TERMS: usize = 150_000;
const MIN_DF: u32 = 2;

#[derive(Debug, Clone)]
pub struct Model {
    pub classes: Vec<String>,
    pub vocab: Vocab,
    pub weights: Weights,
}

/// One class as proposed: its share (置信度, 0–1) and the words that led to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub class: String,
    pub score: f32,
    pub share: f32,
    pub reasons: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    classes: Vec<String>,
    vocab: Vocab,
}

const MAGIC: &[u8] = b"LIUYAN-DISPATCH-1\n";

impl Model {
    /// Train on labelled texts; `None` when they name fewer than two classes.
    pub fn train(docs: &[Labelled]) -> Option<Model> {
        let mut classes: Vec<String> = docs.iter().flat_map(|d| d.labels.clone()).collect();
        classes.sort();
        classes.dedup();
        if classes.len() < 2 {
            return None;
        }
        let started = std::time::Instant::now();
        let texts: Vec<(&str, &str)> = docs
            .iter()
            .map(|d| (d.title.as_str(), d.body.as_str()))
            .collect();
        let (vocab, vectors) = Vocab::fit(&texts, MIN_DF.min(docs.len() as u32), MAX_TERMS);
        let counted = started.elapsed().as_secs_f64();
        let examples: Vec<Example> = docs
            .iter()
            .zip(vectors)
            .map(|(d, x)| Example {
                x,
                labels: d
                    .labels
                    .iter()
                    .filter_map(|l| classes.binary_search(l).ok().map(|i| i as u16))
                    .collect(),
                weight: d.weight,
            })
            .collect();
        let weights = linear::train(&examples, classes.len(), vocab.len(), linear::C);
        tracing::info!(
            texts = docs.len(),
            classes = classes.len(),
            terms = vocab.len(),
            count_seconds = counted,
            svm_seconds = started.elapsed().as_secs_f64() - counted,
            "dispatch model trained"
        );
        Some(Model {
            classes,
            vocab,
            weights,
        })
    }

    /// Every class, best first.
    pub fn rank(&self, title: &str, body: &str) -> Vec<Ranked> {
        let x = self.vocab.vector(title, body);
        let scores = self.weights.scores(&x);
        let shares = linear::shares(&scores);
        let mut order: Vec<usize> = (0..self.classes.len()).collect();
        order.sort_unstable_by(|a, b| scores[*b].total_cmp(&scores[*a]));
        order
            .into_iter()
            .enumerate()
            .map(|(place, k)| Ranked {
                class: self.classes[k].clone(),
                score: scores[k],
                share: shares[k],
                reasons: if place < 3 {
                    self.reasons(&x, k)
                } else {
                    Vec::new()
                },
            })
            .collect()
    }

    /// The best class only (evaluation).
    pub fn best(&self, title: &str, body: &str) -> usize {
        let x = self.vocab.vector(title, body);
        let s = self.weights.scores(&x);
        (0..s.len())
            .max_by(|a, b| s[*a].total_cmp(&s[*b]))
            .unwrap_or(0)
    }

    /// Up to three words that pushed this class up most (bigrams only when no word did).
    fn reasons(&self, x: &text::Sparse, k: usize) -> Vec<String> {
        let mut words = Vec::new();
        let mut grams = Vec::new();
        for (i, c) in self.weights.contributions(x, k) {
            if c <= 0.005 {
                break;
            }
            let term = &self.vocab.terms[i as usize];
            let t = text::text_of(term).to_string();
            match text::kind_of(term) {
                Kind::Word if words.len() < 3 && !words.contains(&t) => words.push(t),
                Kind::Bigram if grams.len() < 3 => grams.push(t),
                _ => {}
            }
        }
        if words.is_empty() {
            grams
        } else {
            words
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            classes: self.classes.clone(),
            vocab: self.vocab.clone(),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(MAGIC.len() + 8 + json.len() + 4 * self.weights.w.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for w in &self.weights.w {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| "不是分拨模型文件".to_string())?;
        let (len, rest) = rest.split_at_checked(8).ok_or("模型文件不完整")?;
        let len = u64::from_le_bytes(len.try_into().map_err(|_| "模型文件不完整")?) as usize;
        let (json, rest) = rest.split_at_checked(len).ok_or("模型文件不完整")?;
        let mut h: Header =
            serde_json::from_slice(json).map_err(|e| format!("模型文件损坏：{e}"))?;
        h.vocab.reindex();
        let (classes, dim) = (h.classes.len(), h.vocab.len());
        if rest.len() != 4 * classes * (dim + 1) {
            return Err("模型文件不完整".into());
        }
        let w = rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Model {
            classes: h.classes,
            vocab: h.vocab,
            weights: Weights { classes, dim, w },
        })
    }
}

/// Evaluation figures over gold labels (an example's first label) and predictions.
#[derive(Debug, Clone)]
pub struct Scores {
    pub classes: Vec<String>,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Per class: (F1, number of gold examples).
    pub per_class: Vec<(f64, usize)>,
    /// confusion[gold][predicted].
    pub confusion: Vec<Vec<usize>>,
}

/// Figures from (gold, predicted) class names.
pub fn score(pairs: &[(String, String)]) -> Scores {
    let mut classes: Vec<String> = pairs
        .iter()
        .flat_map(|(g, p)| [g.clone(), p.clone()])
        .collect();
    classes.sort();
    classes.dedup();
    let n = classes.len();
    let at = |c: &str| classes.binary_search_by(|x| x.as_str().cmp(c)).unwrap_or(0);
    let mut confusion = vec![vec![0usize; n]; n];
    for (g, p) in pairs {
        confusion[at(g)][at(p)] += 1;
    }
    let right: usize = (0..n).map(|i| confusion[i][i]).sum();
    let per_class: Vec<(f64, usize)> = (0..n)
        .map(|i| {
            let tp = confusion[i][i] as f64;
            let gold: usize = confusion[i].iter().sum();
            let pred: usize = confusion.iter().map(|r| r[i]).sum();
            let f1 = if gold + pred == 0 {
                0.0
            } else {
                2.0 * tp / (gold + pred) as f64
            };
            (f1, gold)
        })
        .collect();
    let present: Vec<f64> = per_class.iter().filter(|c| c.1 > 0).map(|c| c.0).collect();
    Scores {
        accuracy: right as f64 / pairs.len().max(1) as f64,
        macro_f1: present.iter().sum::<f64>() / present.len().max(1) as f64,
        per_class,
        confusion,
        classes,
    }
}

/// Predict the test texts with a model trained on the others: (gold, predicted). A text
/// of several classes (a subject two departments share) is right when the prediction is
/// any of them.
pub fn predictions(model: &Model, test: &[Labelled]) -> Vec<(String, String)> {
    test.iter()
        .map(|d| {
            let predicted = model.classes[model.best(&d.title, &d.body)].clone();
            let gold = if d.labels.contains(&predicted) {
                predicted.clone()
            } else {
                d.labels.first().cloned().unwrap_or_default()
            };
            (gold, predicted)
        })
        .collect()
}

fn plain(d: &Labelled) -> String {
    d.title
        .chars()
        .chain(d.body.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Drop texts already seen (the shipped sample repeats about a hundred texts of the
/// labelled file): a text counted twice would be trained on and tested on at once.
/// Returns how many were dropped.
pub fn dedup(docs: &mut Vec<Labelled>, seen: &mut std::collections::HashSet<String>) -> usize {
    let before = docs.len();
    docs.retain(|d| seen.insert(plain(d)));
    before - docs.len()
}

/// A stable pseudo-random place for a text (the same text always lands in the same fold).
fn place(d: &Labelled) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in plain(d).bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A held-out split: about one text in `every` goes to the test side, chosen by a hash
/// of its text (so the split never changes between runs).
pub fn split(docs: &[Labelled], every: u64) -> (Vec<Labelled>, Vec<Labelled>) {
    docs.iter()
        .cloned()
        .partition(|d| !place(d).is_multiple_of(every))
}

/// k-fold cross-validation; the predictions of every fold pooled.
pub fn cross_validate(docs: &[Labelled], k: u64) -> Scores {
    let mut pairs = Vec::with_capacity(docs.len());
    for fold in 0..k {
        let (test, train): (Vec<Labelled>, Vec<Labelled>) =
            docs.iter().cloned().partition(|d| place(d) % k == fold);
        if let Some(m) = Model::train(&train) {
            pairs.extend(predictions(&m, &test));
        }
    }
    score(&pairs)
}

/// The figures as a plain-text report (the CLI and the benchmark print it).
pub fn render(s: &Scores) -> String {
    let mut out = format!(
        "accuracy {:.4}   macro-F1 {:.4}\n\nper class (F1, support):\n",
        s.accuracy, s.macro_f1
    );
    for (c, (f1, n)) in s.classes.iter().zip(&s.per_class) {
        out.push_str(&format!("  {c:<12} {f1:.4} {n:>6}\n"));
    }
    out.push_str("\nconfusion (rows gold, columns predicted, in the order above):\n");
    for (c, row) in s.classes.iter().zip(&s.confusion) {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>5}")).collect();
        out.push_str(&format!("  {c:<12}{}\n", cells.join("")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(t: &str, b: &str, l: &str) -> Labelled {
        Labelled {
            title: t.into(),
            body: b.into(),
            labels: vec![l.into()],
            weight: 1.0,
        }
    }

    #[test]
    fn learns_ranks_explains_and_round_trips() {
        let mut docs = Vec::new();
        for i in 0..6 {
            docs.push(doc(
                &format!("拖欠工资{i}"),
                "公司拖欠农民工工资，社保没有缴纳",
                "人社",
            ));
            docs.push(doc(
                &format!("学校收费{i}"),
                "学校违规收取补课费，教师体罚学生",
                "教育",
            ));
        }
        let m = Model::train(&docs).expect("two classes");
        let r = m.rank("讨要工资", "老板拖欠工资不给");
        assert_eq!(r[0].class, "人社");
        assert!(r[0].share > 0.5);
        assert!(
            r[0].reasons.iter().any(|w| w.contains("工资")),
            "{:?}",
            r[0].reasons
        );
        let back = Model::from_bytes(&m.to_bytes()).expect("reads back");
        assert_eq!(back.rank("讨要工资", "老板拖欠工资不给"), r);
        assert!(Model::from_bytes(b"junk").is_err());
        assert!(Model::train(&docs[..1]).is_none());
    }

    #[test]
    fn scores_macro_f1() {
        let p = |g: &str, q: &str| (g.to_string(), q.to_string());
        let s = score(&[p("a", "a"), p("a", "b"), p("b", "b"), p("b", "b")]);
        assert!((s.accuracy - 0.75).abs() < 1e-9);
        // a: P=1 R=.5 F1=.667; b: P=.667 R=1 F1=.8
        assert!((s.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-9);
        assert_eq!(s.confusion[0][1], 1);
    }
}
