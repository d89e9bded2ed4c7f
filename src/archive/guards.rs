//! The guards of the append-only tables (events, attachments, audit log): triggers that
//! refuse updates and deletes and, on PostgreSQL, the revoked privileges. Someone with
//! database access can drop them; this module finds out (at start-up and in every
//! `verify`), says so, records it in the audit log and puts them back.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::DbConn;

/// A guard that was missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub name: &'static str,
    pub what: &'static str,
}

struct Guard {
    name: &'static str,
    what: &'static str,
    /// SQL that puts it back.
    create: &'static str,
}

const SQLITE: &[Guard] = &[
    Guard {
        name: "message_events_no_update",
        what: "办理记录禁止修改",
        create: "CREATE TRIGGER message_events_no_update BEFORE UPDATE ON message_events \
                 BEGIN SELECT RAISE(ABORT, 'message_events is append-only'); END",
    },
    Guard {
        name: "message_events_no_delete",
        what: "办理记录禁止删除",
        create: "CREATE TRIGGER message_events_no_delete BEFORE DELETE ON message_events \
                 BEGIN SELECT RAISE(ABORT, 'message_events is append-only'); END",
    },
    Guard {
        name: "attachments_no_update",
        what: "附件登记禁止修改",
        create: "CREATE TRIGGER attachments_no_update BEFORE UPDATE ON attachments \
                 BEGIN SELECT RAISE(ABORT, 'attachments are append-only'); END",
    },
    Guard {
        name: "attachments_no_delete",
        what: "附件登记禁止删除",
        create: "CREATE TRIGGER attachments_no_delete BEFORE DELETE ON attachments \
                 BEGIN SELECT RAISE(ABORT, 'attachments are append-only'); END",
    },
    Guard {
        name: "audit_log_no_update",
        what: "审计日志禁止修改（只可写入一次封存）",
        create: "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log \
                 WHEN OLD.hash <> '' OR OLD.seal_seq IS NOT NULL \
                 OR NEW.at IS NOT OLD.at OR NEW.user_id IS NOT OLD.user_id \
                 OR NEW.username IS NOT OLD.username OR NEW.unit_id IS NOT OLD.unit_id \
                 OR NEW.ip IS NOT OLD.ip OR NEW.event IS NOT OLD.event \
                 OR NEW.object IS NOT OLD.object OR NEW.result IS NOT OLD.result \
                 OR NEW.detail IS NOT OLD.detail OR NEW.id IS NOT OLD.id \
                 BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    },
    Guard {
        name: "audit_log_no_delete",
        what: "审计日志禁止删除",
        create: "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
                 BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    },
];

const PG_TRIGGERS: &[Guard] = &[
    Guard {
        name: "message_events_no_change",
        what: "办理记录禁止修改和删除",
        create: "CREATE OR REPLACE FUNCTION message_events_append_only() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'message_events is append-only'; END; $$; \
                 CREATE TRIGGER message_events_no_change BEFORE UPDATE OR DELETE ON message_events \
                 FOR EACH ROW EXECUTE FUNCTION message_events_append_only()",
    },
    Guard {
        name: "attachments_no_change",
        what: "附件登记禁止修改和删除",
        create: "CREATE OR REPLACE FUNCTION attachments_append_only() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'attachments are append-only'; END; $$; \
                 CREATE TRIGGER attachments_no_change BEFORE UPDATE OR DELETE ON attachments \
                 FOR EACH ROW EXECUTE FUNCTION attachments_append_only()",
    },
    Guard {
        name: "audit_log_no_change",
        what: "审计日志禁止修改和删除（只可写入一次封存）",
        create: "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN \
                 IF TG_OP = 'UPDATE' AND OLD.hash = '' AND OLD.seal_seq IS NULL \
                 AND NEW.id = OLD.id AND NEW.at = OLD.at \
                 AND NEW.user_id IS NOT DISTINCT FROM OLD.user_id AND NEW.username = OLD.username \
                 AND NEW.unit_id IS NOT DISTINCT FROM OLD.unit_id AND NEW.ip = OLD.ip \
                 AND NEW.event = OLD.event AND NEW.object = OLD.object \
                 AND NEW.result = OLD.result AND NEW.detail = OLD.detail THEN RETURN NEW; END IF; \
                 RAISE EXCEPTION 'audit_log is append-only'; END; $$; \
                 CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    },
];

/// The PostgreSQL privileges the application's role must not have.
const PG_TABLES: &[&str] = &["audit_log", "message_events", "attachments"];

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The guards missing now.
pub fn missing(conn: &mut DbConn) -> QueryResult<Vec<Missing>> {
    let mut out = Vec::new();
    match conn {
        DbConn::Sqlite(c) => {
            let have: Vec<Name> =
                diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                    .load(c)?;
            for g in SQLITE {
                if !have.iter().any(|h| h.name == g.name) {
                    out.push(Missing {
                        name: g.name,
                        what: g.what,
                    });
                }
            }
        }
        DbConn::Pg(c) => {
            let have: Vec<Name> = diesel::sql_query(
                "SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'",
            )
            .load(c)?;
            for g in PG_TRIGGERS {
                if !have.iter().any(|h| h.name == g.name) {
                    out.push(Missing {
                        name: g.name,
                        what: g.what,
                    });
                }
            }
            let superuser: Count = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM pg_roles WHERE rolname = current_user AND rolsuper",
            )
            .get_result(c)?;
            if superuser.n > 0 {
                out.push(Missing {
                    name: "superuser",
                    what:
                        "应用以数据库超级用户连接：收回的权限对它无效，请改用普通账户（见 README）",
                });
                return Ok(out);
            }
            for t in PG_TABLES {
                let n: Count = diesel::sql_query(format!(
                    "SELECT COUNT(*) AS n FROM (VALUES ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(priv) \
                     WHERE has_table_privilege(current_user, '{t}', p.priv)"
                ))
                .get_result(c)?;
                if n.n > 0 {
                    out.push(Missing {
                        name: t,
                        what: "应用数据库账户对追加表的修改、删除、清空权限应已收回",
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Put the missing guards back.
pub fn restore(conn: &mut DbConn, gone: &[Missing]) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    for m in gone {
        match conn {
            DbConn::Sqlite(c) => {
                if let Some(g) = SQLITE.iter().find(|g| g.name == m.name) {
                    c.batch_execute(g.create)?;
                }
            }
            DbConn::Pg(c) => {
                if let Some(g) = PG_TRIGGERS.iter().find(|g| g.name == m.name) {
                    c.batch_execute(&format!(
                        "DROP TRIGGER IF EXISTS {n} ON {t}; {create}",
                        n = g.name,
                        t = g.name.trim_end_matches("_no_change"),
                        create = g.create
                    ))?;
                } else if PG_TABLES.contains(&m.name) {
                    let t = m.name;
                    c.batch_execute(&format!(
                        "REVOKE UPDATE, DELETE, TRUNCATE ON {t} FROM PUBLIC; \
                         REVOKE UPDATE, DELETE, TRUNCATE ON {t} FROM CURRENT_USER;{}",
                        if t == "audit_log" {
                            " GRANT UPDATE (seal_seq, hash) ON audit_log TO CURRENT_USER;"
                        } else {
                            ""
                        }
                    ))?;
                }
            }
        }
    }
    Ok(())
}

/// Check the guards; put back what is missing (or, with `refuse`, only report), and
/// record it in the audit log. Returns what was missing.
pub fn watch(conn: &mut DbConn, refuse: bool) -> QueryResult<Vec<Missing>> {
    let gone = missing(conn)?;
    if gone.is_empty() {
        return Ok(gone);
    }
    let names: Vec<String> = gone
        .iter()
        .map(|m| format!("{}（{}）", m.name, m.what))
        .collect();
    tracing::error!(missing = %names.join("、"), "数据库保护触发器或权限缺失");
    if !refuse {
        restore(conn, &gone)?;
    }
    crate::audit::record(
        conn,
        &crate::audit::Actor::system(),
        "guard_missing",
        &names.join("、"),
        if refuse {
            crate::audit::FAILED
        } else {
            crate::audit::OK
        },
        if refuse {
            "未恢复（按配置拒绝启动）"
        } else {
            "已自动恢复"
        },
    )?;
    Ok(gone)
}
