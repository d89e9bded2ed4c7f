//! `liuyan`: serve the site, migrate the database, manage users from the console.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use liuyan::audit::Actor;
use liuyan::auth::password;
use liuyan::auth::roles::{Role, ALL_ROLES};
use liuyan::bootstrap;
use liuyan::config::Config;
use liuyan::db::{self, DbConn};
use liuyan::startup::Application;
use liuyan::users::{self, ValidUser};
use liuyan::{units, web::ctx::PRODUCT};

#[derive(Parser)]
#[command(name = "liuyan", about = "网民留言办理记实档案系统", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web site (the default).
    Serve {
        /// Address to listen on, HOST:PORT.
        #[arg(long, env = "LIUYAN_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Demo mode: seed demo accounts into an empty database and show a banner.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check integrity: hash chains, attachment files, sealed archives and 件号 gaps.
    /// Exits with status 1 when anything is broken.
    Verify {
        /// Check only this message (id).
        #[arg(long)]
        message: Option<i32>,
    },
    /// Take an online, consistent backup (database, attachments, manifest) into a new
    /// directory under DIR; keep the newest --keep backups.
    Backup {
        #[arg(long)]
        to: std::path::PathBuf,
        /// How many backups to keep in DIR (0 = all).
        #[arg(long, default_value_t = 0)]
        keep: usize,
    },
    /// Restore a backup into an empty data location, then verify it.
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
        /// Do not ask for confirmation (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Fill a new database with generated messages for benchmarks (with the demo
    /// accounts, password Anshun@2026).
    Generate {
        /// How many messages.
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        /// Spread over this many years up to today.
        #[arg(long, default_value_t = 4)]
        years: i64,
        /// A directory with the 泰迪杯 CSV files for the texts (default: the built-in sample).
        #[arg(long)]
        data: Option<std::path::PathBuf>,
    },
    /// Check an exported archive package (ZIP): its signed manifest, every file, every
    /// event chain, the catalogue, and the four properties (DA/T 70-2018). Exits with
    /// status 1 when a check fails.
    VerifyPackage {
        /// The package file.
        file: std::path::PathBuf,
        /// The site's public key (hex, as printed on the 完整性核验 page and the 归档文件目录);
        /// without it the key shipped in the package is used.
        #[arg(long)]
        public_key: Option<String>,
        /// Also write the 四性检测 report as a printable HTML file.
        #[arg(long)]
        report: Option<std::path::PathBuf>,
    },
    /// The SM2 key ring that signs the archive's seals.
    Keys {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// 智能分拨: seed the site's model from labelled CSV files (--train), or measure:
    /// train on --train, print accuracy, macro-F1, per-class F1 and the confusion matrix
    /// on --eval (nothing is written), or --cv K for k-fold cross-validation.
    Classify {
        #[arg(long, num_args = 1.., required = true)]
        train: Vec<std::path::PathBuf>,
        #[arg(long)]
        eval: Option<std::path::PathBuf>,
        #[arg(long)]
        cv: Option<u64>,
    },
    /// 答复质量: check every reply of a platform export (留言编号, 留言主题, 留言详情,
    /// 答复意见, 留言时间, 答复时间) and print the score distribution and each item's
    /// share of 提示; with --labels (留言编号, 评定), the agreement with hand labels.
    Replies {
        file: std::path::PathBuf,
        #[arg(long)]
        labels: Option<std::path::PathBuf>,
        /// Also print every reply's score and 提示 (one line each).
        #[arg(long)]
        list: bool,
    },
    /// 热点发现: group the messages of an export (留言编号, 留言用户, 留言主题, 留言时间,
    /// 留言详情, and 点赞数/反对数 where present) into matters and print the hottest.
    Hot {
        file: std::path::PathBuf,
        #[arg(long, default_value_t = liuyan::hot::WINDOW_DAYS)]
        window: i64,
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Show the current key and the keys kept for verification.
    Show,
    /// Make a new signing key; the old public key stays for verification.
    Rotate,
    /// Trust an earlier public key (hex, as printed on the 完整性核验 page, the
    /// 归档文件目录 or in a package's public-key.txt) whose private key was lost.
    Trust { public_key: String },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user; a temporary password is printed once and must be changed at first login.
    Create {
        #[arg(long)]
        username: String,
        /// One of: city_operator, city_leader, county_operator, dept_operator, sys_admin, sec_admin, audit_admin.
        #[arg(long)]
        role: String,
        /// Unit id, full name or short name.
        #[arg(long)]
        unit: String,
        /// Display name (defaults to the username).
        #[arg(long)]
        name: Option<String>,
    },
    /// Disable a user and end all of their sessions.
    Disable { username: String },
    /// Set a new temporary password (printed once) and end all of the user's sessions.
    ResetPassword { username: String },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// Return freed memory to the system promptly: argon2 allocates 19 MiB per hash and
/// glibc would otherwise keep those arenas per thread.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called once before any threads start.
    // Large blocks come straight from the kernel and go back to it when freed; four arenas
    // instead of one per thread keep freed memory from piling up in each, and are enough
    // that threads seldom wait for one another's allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Ask on the terminal; only the word 恢复 (or `yes`) confirms. Without a terminal
/// nothing is confirmed (scripts pass `--yes`).
fn confirmed(prompt: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        println!("没有可以确认的终端：请在终端中运行，或加 --yes。");
        return Ok(false);
    }
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "恢复" | "yes"))
}

fn print_initial_admin(pw: &Option<String>) {
    if let Some(pw) = pw {
        println!("==============================================================");
        println!(" 已创建初始系统管理员账户（仅显示这一次，请立即记录）：");
        println!("   用户名：admin");
        println!("   密  码：{pw}");
        println!(" 首次登录后必须修改密码。");
        println!("==============================================================");
    }
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    init_tracing();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve {
        bind: config.bind.clone(),
        demo: false,
    }) {
        Command::Serve { bind, demo } => {
            config.bind = bind;
            config.demo = demo;
            config.validate()?;
            actix_web::rt::System::new().block_on(serve(config))
        }
        Command::Verify { message } => {
            let mut conn = connect(&config)?;
            let ring = site_ring(&config)?;
            db::run_migrations(&mut conn)?;
            let store = liuyan::attachments::Store::new(&config.data_dir);
            let site = liuyan::archive::verify::Site::of(&store, &ring, &config);
            let started = std::time::Instant::now();
            let report = match message {
                Some(id) => {
                    let msg: liuyan::messages::model::Message = {
                        use diesel::prelude::*;
                        use liuyan::db::schema::messages::dsl as m;
                        m::messages
                            .find(id)
                            .first(&mut conn)
                            .optional()?
                            .with_context(|| format!("没有编号为 {id} 的留言"))?
                    };
                    liuyan::archive::verify::message(&mut conn, &site, &msg)
                }
                None => liuyan::archive::verify::run(&mut conn, &site, None),
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{}（用时 {:.1} 秒）",
                report.summary(),
                started.elapsed().as_secs_f64()
            );
            if report.breaks.is_empty() {
                return Ok(());
            }
            for b in &report.breaks {
                if b.ref_no.is_empty() {
                    println!("问题：{}", b.what);
                } else {
                    println!(
                        "问题：{}（留言 #{}）：{}",
                        b.ref_no,
                        b.message_id.unwrap_or(0),
                        b.what
                    );
                }
            }
            bail!("发现 {} 个完整性问题", report.breaks.len());
        }
        Command::Backup { to, keep } => {
            site_ring(&config)?;
            let dir = liuyan::backup::backup(&config, &to)?;
            println!("备份完成：{}", dir.display());
            if keep > 0 {
                let n = liuyan::backup::prune(&to, keep)?;
                if n > 0 {
                    println!("按保留份数 {keep} 删除了较早的备份 {n} 份。");
                }
            }
            Ok(())
        }
        Command::Restore { from, yes } => {
            site_ring(&config)?;
            let m = liuyan::backup::manifest(&from)?;
            println!("将把以下备份恢复到数据目录 {}：", config.data_dir.display());
            println!("  备份时间：{}（{}）", m.created_at, m.backend);
            for (t, n) in m
                .rows
                .iter()
                .filter(|(t, _)| t == "messages" || t == "users")
            {
                println!("  {t}: {n} 行");
            }
            println!("  附件：{} 个", m.files.len());
            if !yes && !confirmed("确认恢复请输入“恢复”：")? {
                bail!("未确认，没有恢复任何数据。");
            }
            let started = std::time::Instant::now();
            let report = liuyan::backup::restore(&config, &from)?;
            println!(
                "已核对备份文件 {} 个；用时 {:.1} 秒。",
                report.checked_files,
                started.elapsed().as_secs_f64()
            );
            for (t, n) in &report.rows {
                println!("  {t}: {n} 行");
            }
            if report.problems.is_empty() {
                println!(
                    "恢复完成，核验通过：数据库完整，行数、附件哈希、审计日志和档案哈希链均一致。"
                );
                return Ok(());
            }
            for p in &report.problems {
                println!("问题：{p}");
            }
            bail!("恢复后核验发现 {} 个问题", report.problems.len());
        }
        Command::Generate {
            messages,
            years,
            data,
        } => {
            site_ring(&config)?;
            let started = std::time::Instant::now();
            let mut conn = connect(&config)?;
            bootstrap::prepare(&mut conn, true, false)?;
            let texts = liuyan::generate::texts(data.as_deref())?;
            println!(
                "正在生成 {messages} 条留言（{years} 年，文本 {} 条）……",
                texts.messages.len()
            );
            let n = liuyan::generate::generate(
                &mut conn,
                messages,
                years,
                liuyan::clock::china_today(),
                &texts,
                |done| {
                    if done % 50_000 == 0 {
                        println!(
                            "  已生成 {done} 条，用时 {:.0} 秒",
                            started.elapsed().as_secs_f64()
                        );
                    }
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "完成：生成 {n} 条留言，用时 {:.1} 秒。演示账户密码为 {}。",
                started.elapsed().as_secs_f64(),
                bootstrap::DEMO_PASSWORD
            );
            Ok(())
        }
        Command::VerifyPackage {
            file,
            public_key,
            report,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("无法读取 {}", file.display()))?;
            let found = liuyan::archive::package::inspect(
                &bytes,
                public_key.as_deref(),
                config.clamscan.as_deref(),
            );
            println!(
                "移交包：{} {}，档案 {} 份、文件 {} 个；{}",
                found.unit, found.period, found.archives, found.files, found.key_source
            );
            for c in &found.checks {
                println!(
                    "[{}] {}·{}：{}",
                    c.outcome_label(),
                    c.property,
                    c.item,
                    c.detail
                );
            }
            if let Some(out) = report {
                let html = liuyan::web::archive::inspection_html(&found)?;
                std::fs::write(&out, html)
                    .with_context(|| format!("无法写入 {}", out.display()))?;
                println!("四性检测报告已写入 {}", out.display());
            }
            let problems = found.problems();
            if problems.is_empty() {
                println!("未发现问题：签名有效，所有文件与清单一致，四性检测通过。");
                return Ok(());
            }
            bail!("移交包有 {} 项检测不通过", problems.len());
        }
        Command::Migrate => {
            let mut conn = connect(&config)?;
            db::run_migrations(&mut conn)?;
            println!("数据库迁移完成。");
            Ok(())
        }
        Command::Classify { train, eval, cv } => classify(&config, &train, eval, cv),
        Command::Replies { file, labels, list } => replies(&file, labels.as_deref(), list),
        Command::Hot { file, window, top } => hot(&file, window, top),
        Command::Keys { action } => {
            let mut conn = connect(&config)?;
            let ring = site_ring(&config)?;
            db::run_migrations(&mut conn)?;
            let now = liuyan::clock::format_time(db::now());
            let (event, detail) = match action {
                KeyAction::Show => {
                    println!("签名密钥文件：{}", config.signing_key_path().display());
                    println!("算法：{}", liuyan::archive::signing::ALGORITHM);
                    for k in ring.keys() {
                        println!(
                            "{}  {}  {}{}\n  公钥：{}",
                            liuyan::archive::signing::fingerprint(&k.id),
                            k.note,
                            k.created_at,
                            if k.retired_at.is_empty() {
                                String::new()
                            } else {
                                format!(" 至 {}", k.retired_at)
                            },
                            k.public
                        );
                    }
                    return Ok(());
                }
                KeyAction::Rotate => {
                    let old = ring.current().0;
                    let new = ring.rotate(&now)?;
                    println!("已生成新的签名密钥 {new}；原密钥 {old} 的公钥保留用于核验。请备份新的密钥文件。");
                    ("signing_key_rotate", format!("{old} → {new}"))
                }
                KeyAction::Trust { public_key } => {
                    let id = ring.trust(&public_key, &now)?;
                    println!("已导入公钥 {id}：由它签署的封印可以核验了（不能再用它签名）。");
                    ("signing_key_trust", id)
                }
            };
            liuyan::audit::record(
                &mut conn,
                &Actor::cli(),
                event,
                &config.signing_key_path().display().to_string(),
                liuyan::audit::OK,
                &detail,
            )?;
            Ok(())
        }
        Command::User { action } => {
            site_ring(&config)?;
            let mut conn = connect(&config)?;
            let prepared = bootstrap::prepare(&mut conn, false, false)?;
            print_initial_admin(&prepared.initial_admin_password);
            user_command(&mut conn, action)
        }
    }
}

/// Scheduled backups: every `LIUYAN_BACKUP_EVERY_HOURS` into `LIUYAN_BACKUP_DIR`,
/// keeping `LIUYAN_BACKUP_KEEP`.
fn schedule_backups(config: &Config) -> anyhow::Result<()> {
    let dir = match std::env::var("LIUYAN_BACKUP_DIR") {
        Ok(d) if !d.trim().is_empty() => std::path::PathBuf::from(d.trim()),
        _ => return Ok(()),
    };
    let hours: u64 = std::env::var("LIUYAN_BACKUP_EVERY_HOURS")
        .ok()
        .map(|v| v.trim().parse())
        .transpose()
        .context("LIUYAN_BACKUP_EVERY_HOURS 应为正整数")?
        .unwrap_or(24);
    let keep: usize = std::env::var("LIUYAN_BACKUP_KEEP")
        .ok()
        .map(|v| v.trim().parse())
        .transpose()
        .context("LIUYAN_BACKUP_KEEP 应为正整数")?
        .unwrap_or(7);
    if hours == 0 {
        bail!("LIUYAN_BACKUP_EVERY_HOURS 必须大于 0");
    }
    let cfg = config.clone();
    let shown = dir.display().to_string();
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(hours * 3600));
        match liuyan::backup::backup(&cfg, &dir) {
            Ok(d) => {
                tracing::info!(dir = %d.display(), "scheduled backup done");
                if let Err(e) = liuyan::backup::prune(&dir, keep) {
                    tracing::error!(error = %e, "pruning old backups failed");
                }
            }
            Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
        }
    });
    println!("定时备份：每 {hours} 小时备份到 {shown}，保留 {keep} 份。");
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    schedule_backups(&config)?;
    let demo = config.demo;
    let bind = config.bind.clone();
    let app = Application::build(config).await?;
    print_initial_admin(&app.initial_admin_password);
    let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
    let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
    println!("{PRODUCT} 已启动：http://{host}:{}/", app.port());
    if demo {
        println!(
            "演示环境：账户 center / leader / xixiu / pingba / zhujian / renshe / sysadmin / secadmin / auditor，密码均为 {}",
            bootstrap::DEMO_PASSWORD
        );
    }
    app.run_until_stopped().await.context("服务器异常退出")
}

/// The site's key ring, installed on this thread (every write signs with it).
fn site_ring(config: &Config) -> anyhow::Result<std::sync::Arc<liuyan::archive::signing::Keyring>> {
    let path = config.signing_key_path();
    let (ring, loaded) = liuyan::archive::signing::Keyring::for_site(config)?;
    if loaded == liuyan::archive::signing::Loaded::Created {
        println!(
            "注意：签名密钥文件 {} 不存在，已生成新密钥。迁移或恢复已有数据时，应先把原数据目录中的 {} 复制过来，否则原有签名无法核验。",
            path.display(),
            liuyan::archive::signing::KEY_FILE
        );
    }
    ring.install();
    Ok(ring)
}

fn connect(config: &Config) -> anyhow::Result<DbConn> {
    if db::Backend::from_url(&config.database_url) == db::Backend::Sqlite {
        if let Some(dir) = db::sqlite_path(&config.database_url).parent() {
            if !dir.as_os_str().is_empty() {
                db::ensure_dir(dir)?;
            }
        }
    }
    db::establish(&config.database_url)
        .with_context(|| format!("无法连接数据库（{}）", db::redact_url(&config.database_url)))
}

fn user_command(conn: &mut DbConn, action: UserAction) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match action {
        UserAction::Create {
            username,
            role,
            unit,
            name,
        } => {
            let Some(role) = Role::parse(&role) else {
                let names: Vec<&str> = ALL_ROLES.iter().map(|r| r.as_str()).collect();
                bail!("未知角色“{role}”。可选：{}", names.join(", "));
            };
            let unit =
                units::find_by_name(conn, &unit)?.with_context(|| format!("找不到单位“{unit}”"))?;
            let input = users::UserInput {
                username: username.clone(),
                display_name: name.unwrap_or_else(|| username.clone()),
                unit_id: unit.id.to_string(),
                role: role.as_str().to_string(),
            };
            let valid: ValidUser =
                match users::validate(conn, &input, None).map_err(|e| anyhow::anyhow!("{e}"))? {
                    Ok(v) => v,
                    Err(errors) => bail!("{}", errors.messages().join(" ")),
                };
            let pw = password::generate();
            let hash = password::hash_now(&pw).map_err(|e| anyhow::anyhow!("{e}"))?;
            users::create(conn, &valid, &hash, true, &actor).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "已创建用户 {}（{}，{}）。临时密码：{pw}",
                valid.username,
                role.label(),
                unit.name
            );
            println!("首次登录后必须修改密码。");
        }
        UserAction::Disable { username } => {
            let user = users::find_by_username(conn, &username)?
                .with_context(|| format!("找不到用户“{username}”"))?;
            users::set_active(conn, &user, false, &actor).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("用户 {username} 已停用，其所有登录已退出。");
        }
        UserAction::ResetPassword { username } => {
            let user = users::find_by_username(conn, &username)?
                .with_context(|| format!("找不到用户“{username}”"))?;
            let pw = password::generate();
            let hash = password::hash_now(&pw).map_err(|e| anyhow::anyhow!("{e}"))?;
            users::set_password(conn, &user, &hash, true, "password_reset", &actor)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("用户 {username} 的临时密码：{pw}");
            println!("其所有登录已退出；下次登录后必须修改密码。");
        }
    }
    Ok(())
}

/// Labelled texts of the files, each text once (`seen` carries across calls, so an
/// evaluation file loses the texts that are also in the training files).
fn read_labelled(
    files: &[std::path::PathBuf],
    seen: &mut std::collections::HashSet<String>,
) -> anyhow::Result<Vec<liuyan::dispatch::model::Labelled>> {
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let mut rows = liuyan::dispatch::seedfile::read(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        let dropped = liuyan::dispatch::model::dedup(&mut rows, seen);
        println!(
            "{}: {} labelled texts ({dropped} already seen, left out)",
            f.display(),
            rows.len()
        );
        out.extend(rows);
    }
    Ok(out)
}

/// Rows of a CSV file by header name (a BOM allowed).
fn csv_rows(
    path: &std::path::Path,
) -> anyhow::Result<Vec<std::collections::HashMap<String, String>>> {
    let bytes = std::fs::read(path).with_context(|| format!("读取 {}", path.display()))?;
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = r.headers()?.iter().map(|h| h.trim().to_string()).collect();
    let mut out = Vec::new();
    for row in r.records() {
        let row = row?;
        out.push(
            header
                .iter()
                .cloned()
                .zip(row.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok(out)
}

fn hot(file: &std::path::Path, window: i64, top: usize) -> anyhow::Result<()> {
    let rows = csv_rows(file)?;
    let get = |r: &std::collections::HashMap<String, String>, k: &str| {
        r.get(k).cloned().unwrap_or_default()
    };
    let num = |r: &std::collections::HashMap<String, String>, k: &str| {
        get(r, k).trim().parse::<i64>().unwrap_or(0)
    };
    let mut refs: Vec<String> = Vec::new();
    let items: Vec<liuyan::hot::Item> = rows
        .iter()
        .filter_map(|r| {
            let at = liuyan::import::parse_time(&liuyan::import::Cell::Text(get(r, "留言时间")))?;
            refs.push(get(r, "留言编号").trim().to_string());
            Some(liuyan::hot::Item::read(
                refs.len() as i64 - 1,
                get(r, "留言用户").trim(),
                &get(r, "留言主题"),
                &get(r, "留言详情"),
                at,
                num(r, "点赞数") + num(r, "反对数"),
            ))
        })
        .collect();
    let now = items.iter().map(|i| i.at).max().unwrap_or_default();
    let started = std::time::Instant::now();
    let found = liuyan::hot::clusters(&items, window, now);
    println!(
        "留言 {} 条（时间可读的），窗口 {window} 天：{} 个问题（至少 2 条），用时 {:.1} 秒；增长按最后一条留言（{}）前 7 天计",
        items.len(),
        found.len(),
        started.elapsed().as_secs_f64(),
        liuyan::clock::format_time(now)
    );
    println!("排名\t热度\t时间范围\t地点/对象\t留言数\t反映人数\t点赞+反对\t描述\t留言编号");
    for (k, c) in found.iter().take(top).enumerate() {
        let ids: Vec<&str> = c
            .members
            .iter()
            .take(8)
            .filter_map(|&i| refs.get(i as usize).map(String::as_str))
            .collect();
        println!(
            "{}\t{:.1}{}\t{} 至 {}\t{}\t{}\t{}\t{}\t{}\t{}{}",
            k + 1,
            c.heat,
            if c.warning { "（预警）" } else { "" },
            c.first.format("%Y-%m-%d"),
            c.last.format("%Y-%m-%d"),
            c.place,
            c.members.len(),
            c.users,
            c.votes,
            c.description,
            ids.join(" "),
            if c.members.len() > 8 { " …" } else { "" }
        );
    }
    Ok(())
}

fn replies(
    file: &std::path::Path,
    labels: Option<&std::path::Path>,
    list: bool,
) -> anyhow::Result<()> {
    use liuyan::messages::reply_check::{self, Label, Timing};
    // Platform history has no 转办: 及时性 counts working days (weekends only; the
    // export's years have no holiday calendar here) from 留言时间 to 答复时间 against
    // the default reply period.
    let cal = liuyan::messages::calendar::Calendar::default();
    let limit = liuyan::messages::config::DEFAULT_REPLY_DAYS as i64;
    let date = |s: &str| {
        liuyan::import::parse_time(&liuyan::import::Cell::Text(s.to_string())).map(|t| t.date())
    };
    let get = |r: &std::collections::HashMap<String, String>, k: &str| {
        r.get(k).cloned().unwrap_or_default()
    };
    let checked: Vec<(String, reply_check::Check)> = csv_rows(file)?
        .iter()
        .map(|r| {
            let timing = match (date(&get(r, "留言时间")), date(&get(r, "答复时间"))) {
                (Some(a), Some(b)) => {
                    let used = cal.working_days_between(a, b);
                    Some(Timing {
                        used,
                        late: (used - limit).max(0),
                    })
                }
                _ => None,
            };
            (
                get(r, "留言编号").trim().to_string(),
                reply_check::check(
                    &get(r, "留言主题"),
                    &get(r, "留言详情"),
                    &get(r, "答复意见"),
                    timing,
                ),
            )
        })
        .collect();
    let labels: Vec<(String, Label)> = match labels {
        Some(p) => csv_rows(p)?
            .iter()
            .filter_map(|r| {
                Some((
                    get(r, "留言编号").trim().to_string(),
                    Label::parse(&get(r, "评定"))?,
                ))
            })
            .collect(),
        None => Vec::new(),
    };
    if list {
        for (id, c) in &checked {
            println!(
                "{id}\t{}\t{}\t{}",
                c.score,
                if c.answers { "答复" } else { "不答所问" },
                c.quoted()
            );
        }
    }
    print!("{}", reply_check::report(&checked, &labels));
    Ok(())
}

fn classify(
    config: &Config,
    train: &[std::path::PathBuf],
    eval: Option<std::path::PathBuf>,
    cv: Option<u64>,
) -> anyhow::Result<()> {
    use liuyan::dispatch::model::{self, Model};
    let mut seen = std::collections::HashSet::new();
    let docs = read_labelled(train, &mut seen)?;
    if let Some(k) = cv {
        let started = std::time::Instant::now();
        let s = model::cross_validate(&docs, k.max(2));
        println!(
            "{k}-fold cross-validation over {} texts ({:.1} s):",
            docs.len(),
            started.elapsed().as_secs_f64()
        );
        print!("{}", model::render(&s));
    }
    let eval_none = eval.is_none();
    if let Some(e) = eval {
        let test = read_labelled(&[e], &mut seen)?;
        let started = std::time::Instant::now();
        let m = Model::train(&docs).context("the training files name fewer than two classes")?;
        println!(
            "trained on {} texts in {:.1} s ({} terms)",
            docs.len(),
            started.elapsed().as_secs_f64(),
            m.vocab.len()
        );
        print!(
            "{}",
            model::render(&model::score(&model::predictions(&m, &test)))
        );
    }
    if cv.is_none() && eval_none {
        // Seed this site: the texts are kept (later retrainings read them too), then both
        // models are trained at once.
        let _ring = site_ring(config)?;
        let mut conn = connect(config)?;
        db::run_migrations(&mut conn)?;
        let source = train
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
            .collect::<Vec<_>>()
            .join("、");
        let added = db::write_tx(&mut conn, |c| -> anyhow::Result<usize> {
            units::seed_if_empty(c)?;
            liuyan::messages::config::seed_if_empty(c)?;
            let all = units::all(c)?;
            liuyan::dispatch::store::default_subjects(c, &all)?;
            let n = liuyan::dispatch::store::add_seeds(c, &docs, &source, db::now())?;
            liuyan::audit::record(
                c,
                &Actor::system(),
                "dispatch_seed",
                "智能分拨：导入训练样本",
                liuyan::audit::OK,
                &format!("{source}：新增 {n} 条"),
            )?;
            Ok(n)
        })?;
        println!("{added} new seed texts stored");
        let pool = db::build_pool(&config.database_url, 2)?;
        match liuyan::dispatch::retrain(&pool, "命令行 classify --train", 60)? {
            Some(t) => println!(
                "trained in {:.1} s on {} texts ({} from this site's record): unit model {}, category model {}",
                t.seconds,
                t.examples,
                t.site_examples,
                t.unit_version.map(|v| format!("v{v}")).unwrap_or("not made (no subject maps to a unit)".into()),
                t.category_version.map(|v| format!("v{v}")).unwrap_or("not made".into()),
            ),
            None => println!("another process is training the models now; they will include these texts next time"),
        }
    }
    Ok(())
}
