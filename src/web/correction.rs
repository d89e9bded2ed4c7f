//! The 补正 / 更正 form on the message page: a link beside each element the user may
//! correct, then a form typed for that element (a list, a line, a text, a time).

use crate::auth::roles::Role;
use crate::messages::correction::{self, Field, Input, Lists};
use crate::messages::lifecycle::{Action, Standing};
use crate::messages::model::Message;
use crate::messages::service::ActForm;
use crate::reference::Reference;
use crate::web::Choice;

/// The form of one correction action.
pub struct CorrectView {
    /// The elements that may be corrected (the picker).
    pub fields: Vec<Choice>,
    /// The element being corrected, once chosen.
    pub chosen: Option<Chosen>,
    /// 更正 may also just append an explanation without changing an element.
    pub optional: bool,
}

pub struct Chosen {
    pub code: &'static str,
    pub label: &'static str,
    /// `choice`, `line`, `text`, `datetime`, `yesno` or `evaluation`.
    pub input: &'static str,
    pub max: usize,
    pub choices: Vec<String>,
    /// The value now, as recorded (联系方式 masked).
    pub current: String,
    /// What the form holds: the value now, or what the user typed.
    pub value: String,
    pub resolved: String,
    pub satisfaction: String,
}

/// A link beside an element of the 16 that opens its correction.
pub struct Fix {
    pub no: usize,
    pub href: String,
    pub text: String,
    pub aria: String,
}

/// The correction action open to this user now (补正 before 销号, 更正 after).
pub fn action_of(available: &[Action]) -> Option<Action> {
    [Action::Correct, Action::Amend]
        .into_iter()
        .find(|a| available.contains(a))
}

pub fn fixes(action: Action, id: i32, msg: &Message, standing: Standing) -> Vec<Fix> {
    correction::correctable(msg, standing)
        .into_iter()
        .map(|f| {
            let empty = correction::shown(msg, f).trim().is_empty();
            let verb = if empty && f != Field::PlatformRef {
                "补齐"
            } else {
                action.label()
            };
            Fix {
                no: f.element_no(),
                href: format!(
                    "/messages/{id}{}#act-{}",
                    crate::web::extract::query(&[("open", action.as_str()), ("field", f.code())]),
                    action.as_str()
                ),
                text: if f == Field::PlatformRef {
                    format!("{verb}平台编号")
                } else {
                    verb.to_string()
                },
                aria: format!("{verb}{}", f.label()),
            }
        })
        .collect()
}

/// The form for a correction action; `form` is what the user typed (or, when the form
/// was just opened, the element's value now).
pub fn view(
    action: Action,
    msg: &Message,
    standing: Standing,
    reference: &Reference,
    role: Role,
    form: Option<&ActForm>,
) -> CorrectView {
    let allowed = correction::correctable(msg, standing);
    let lists = Lists {
        levels: &reference.levels,
        platforms: &reference.platforms,
        categories: &reference.categories,
        role,
    };
    let chosen = form.and_then(|f| {
        let field = Field::parse(f.field.trim()).filter(|x| allowed.contains(x))?;
        let (input, max) = match field.input() {
            Input::Choice => ("choice", 0),
            Input::Line(n) => ("line", n),
            Input::Text => ("text", 20000),
            Input::DateTime => ("datetime", 0),
            Input::YesNo => ("yesno", 0),
            Input::Evaluation => ("evaluation", 20000),
        };
        Some(Chosen {
            code: field.code(),
            label: field.label(),
            input,
            max,
            choices: lists.choices(field),
            current: correction::shown(msg, field),
            value: f.value.clone(),
            resolved: f.resolved.clone(),
            satisfaction: f.satisfaction.clone(),
        })
    });
    CorrectView {
        fields: allowed
            .iter()
            .map(|f| Choice {
                value: f.code().to_string(),
                label: format!("{}. {}", f.element_no(), f.label()),
                disabled: false,
            })
            .collect(),
        chosen,
        optional: action == Action::Amend,
    }
}

/// The form as opened from an element's link: the element's value now filled in.
pub fn opened(msg: &Message, field: &str) -> ActForm {
    let mut form = ActForm {
        field: field.to_string(),
        ..Default::default()
    };
    if let Some(f) = Field::parse(field) {
        match f {
            Field::Resolved => form.resolved = correction::current(msg, f),
            Field::Evaluation => {
                form.satisfaction = msg.satisfaction.clone().unwrap_or_default();
                form.value = correction::current(msg, f);
            }
            _ => form.value = correction::current(msg, f),
        }
    }
    form
}
