/* reg_schema.c: the registry's schema as versioned migrations.  Each
 * migration is one SQL text both engines run, plus what only PostgreSQL
 * has (roles, ownership, grants, row-level security).  They run in order in
 * one transaction each, under a lock (SQLite BEGIN IMMEDIATE; PostgreSQL an
 * advisory lock), and record their version in mnap_schema, so two terminals
 * upgrading at once apply each migration once.  docs/registry.md describes
 * the tables. */
#include "reg_int.h"

#include <stdlib.h>
#include <string.h>

/* Every table that holds a municipality's data has a `municipality` column
 * (municipalities has `code`); PostgreSQL's policies and the pgTAP check in
 * test/registry/rls.sql rely on that. */
static const char v1_common[] =
    "CREATE TABLE mnap_schema (version INTEGER NOT NULL);\n"
    "CREATE TABLE municipalities (\n"
    "  code TEXT PRIMARY KEY CHECK (length(code) = 6),\n"
    "  name TEXT NOT NULL,\n"
    "  max_failed_logins INTEGER NOT NULL DEFAULT 3 CHECK (max_failed_logins BETWEEN 1 AND 20),\n"
    "  service_key TEXT NOT NULL,\n"
    "  created_at BIGINT NOT NULL);\n"
    "CREATE TABLE operators (\n"
    "  municipality TEXT NOT NULL REFERENCES municipalities(code),\n"
    "  id TEXT NOT NULL,\n"
    "  display_name TEXT NOT NULL,\n"
    "  role TEXT NOT NULL CHECK (role IN ('clerk','supervisor','auditor','admin','kiosk')),\n"
    "  password_hash TEXT NOT NULL,\n"
    "  failed_logins INTEGER NOT NULL DEFAULT 0,\n"
    "  locked INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),\n"
    "  created_at BIGINT NOT NULL,\n"
    "  PRIMARY KEY (municipality, id));\n"
    "CREATE TABLE sessions (\n"
    "  token_hash TEXT PRIMARY KEY,\n"
    "  municipality TEXT NOT NULL,\n"
    "  operator TEXT NOT NULL,\n"
    "  created_at BIGINT NOT NULL,\n"
    "  expires_at BIGINT NOT NULL,\n"
    "  FOREIGN KEY (municipality, operator) REFERENCES operators(municipality, id));\n"
    "CREATE TABLE residents (\n"
    "  municipality TEXT NOT NULL REFERENCES municipalities(code),\n"
    "  number TEXT NOT NULL,\n"
    "  name_kanji TEXT NOT NULL,\n"
    "  name_kana TEXT NOT NULL,\n"
    "  birth_date TEXT NOT NULL,\n"
    "  address TEXT NOT NULL,\n"
    "  imported_at BIGINT NOT NULL,\n"
    "  imported_by TEXT NOT NULL,\n"
    "  PRIMARY KEY (municipality, number));\n"
    "CREATE TABLE cards (\n"
    "  serial TEXT PRIMARY KEY CHECK (length(serial) = 16),\n"
    "  municipality TEXT NOT NULL,\n"
    "  resident TEXT NOT NULL,\n"
    "  state TEXT NOT NULL CHECK (state IN ('ACTIVE','SUSPENDED','STOPPED','TERMINATED')),\n"
    "  registered_at BIGINT NOT NULL,\n"
    "  registered_by TEXT NOT NULL,\n"
    "  state_changed_at BIGINT NOT NULL,\n"
    "  FOREIGN KEY (municipality, resident) REFERENCES residents(municipality, number));\n"
    "CREATE INDEX cards_resident ON cards (municipality, resident);\n"
    "CREATE TABLE issued_aps (\n"
    "  municipality TEXT NOT NULL,\n"
    "  serial TEXT NOT NULL REFERENCES cards(serial),\n"
    "  aid TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL,\n"
    "  service TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK (status IN ('LOADING','LOADED','DELETING','DELETED','FAILED')),\n"
    "  begun_at BIGINT NOT NULL,\n"
    "  begun_by TEXT NOT NULL,\n"
    "  loaded_at BIGINT,\n"
    "  loaded_by TEXT,\n"
    "  deleted_at BIGINT,\n"
    "  deleted_by TEXT,\n"
    "  PRIMARY KEY (serial, aid, seq));\n"
    "CREATE TABLE service_ids (\n"
    "  municipality TEXT NOT NULL,\n"
    "  resident TEXT NOT NULL,\n"
    "  system TEXT NOT NULL,\n"
    "  service_id TEXT NOT NULL UNIQUE,\n"
    "  created_at BIGINT NOT NULL,\n"
    "  PRIMARY KEY (municipality, resident, system),\n"
    "  FOREIGN KEY (municipality, resident) REFERENCES residents(municipality, number));\n"
    "CREATE VIEW stop_list AS\n"
    "  SELECT municipality, serial, state, state_changed_at FROM cards WHERE state <> 'ACTIVE';\n";

/* PostgreSQL: the tables belong to mnap_owner (NOLOGIN, no BYPASSRLS), so
 * FORCE ROW LEVEL SECURITY holds for it too, including inside the stop-list
 * view that runs with its owner's rights; terminals connect as login roles
 * that are members of mnap_m_<code> (which is in mnap_app) and kiosk groups
 * as members of mnap_k_<code> (in mnap_kiosk).  The policies test only the
 * connected role, so nothing a client sends can widen them. */
static const char v1_pg[] =
    "DO $$ BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mnap_owner') THEN\n"
    "    CREATE ROLE mnap_owner NOLOGIN NOBYPASSRLS; END IF;\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mnap_app') THEN\n"
    "    CREATE ROLE mnap_app NOLOGIN NOBYPASSRLS; END IF;\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mnap_kiosk') THEN\n"
    "    CREATE ROLE mnap_kiosk NOLOGIN NOBYPASSRLS; END IF;\n"
    "END $$;\n"
    "ALTER TABLE mnap_schema OWNER TO mnap_owner;\n"
    "ALTER TABLE municipalities OWNER TO mnap_owner;\n"
    "ALTER TABLE operators OWNER TO mnap_owner;\n"
    "ALTER TABLE sessions OWNER TO mnap_owner;\n"
    "ALTER TABLE residents OWNER TO mnap_owner;\n"
    "ALTER TABLE cards OWNER TO mnap_owner;\n"
    "ALTER TABLE issued_aps OWNER TO mnap_owner;\n"
    "ALTER TABLE service_ids OWNER TO mnap_owner;\n"
    "ALTER VIEW stop_list OWNER TO mnap_owner;\n"
    "REVOKE ALL ON mnap_schema, municipalities, operators, sessions, residents, cards, issued_aps,\n"
    "  service_ids, stop_list FROM PUBLIC;\n"
    "GRANT SELECT ON mnap_schema TO mnap_app, mnap_kiosk;\n"
    "GRANT SELECT ON municipalities TO mnap_app;\n"
    "GRANT SELECT, INSERT, UPDATE, DELETE ON operators, sessions, residents, cards, issued_aps,\n"
    "  service_ids TO mnap_app;\n"
    "GRANT SELECT ON stop_list TO mnap_app, mnap_kiosk;\n"
    "ALTER TABLE municipalities ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE municipalities FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON municipalities\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || code, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || code, 'MEMBER'));\n"
    "ALTER TABLE operators ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE operators FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON operators\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n"
    "ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE sessions FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON sessions\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n"
    "ALTER TABLE residents ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE residents FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON residents\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n"
    "ALTER TABLE cards ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE cards FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON cards\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n"
    "CREATE POLICY kiosk_stop_list ON cards FOR SELECT\n"
    "  USING (state <> 'ACTIVE' AND pg_has_role(current_user, 'mnap_k_' || municipality, 'MEMBER'));\n"
    "ALTER TABLE issued_aps ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE issued_aps FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON issued_aps\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n"
    "ALTER TABLE service_ids ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE service_ids FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON service_ids\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n";

/* Version 2 (stop measures): every state change of a card, with who, when
 * and why.  Rows are only added: terminals may INSERT and SELECT, never
 * UPDATE or DELETE (PostgreSQL: privileges; SQLite: triggers). */
static const char v2_common[] =
    "CREATE TABLE card_events (\n"
    "  municipality TEXT NOT NULL,\n"
    "  serial TEXT NOT NULL REFERENCES cards(serial),\n"
    "  seq INTEGER NOT NULL,\n"
    "  from_state TEXT NOT NULL CHECK (from_state IN ('NONE','ACTIVE','SUSPENDED','STOPPED','TERMINATED')),\n"
    "  to_state TEXT NOT NULL CHECK (to_state IN ('ACTIVE','SUSPENDED','STOPPED','TERMINATED')),\n"
    "  reason TEXT NOT NULL CHECK (reason IN ('registered','missing','found','lost','stolen','returned','expired')),\n"
    "  actor TEXT NOT NULL,\n"
    "  at BIGINT NOT NULL,\n"
    "  PRIMARY KEY (serial, seq));\n";
static const char v2_sqlite[] =
    "CREATE TRIGGER card_events_no_update BEFORE UPDATE ON card_events\n"
    "  BEGIN SELECT RAISE(ABORT, 'card_events rows are never changed'); END;\n"
    "CREATE TRIGGER card_events_no_delete BEFORE DELETE ON card_events\n"
    "  BEGIN SELECT RAISE(ABORT, 'card_events rows are never deleted'); END;\n";
static const char v2_pg[] =
    "ALTER TABLE card_events OWNER TO mnap_owner;\n"
    "REVOKE ALL ON card_events FROM PUBLIC;\n"
    "GRANT SELECT, INSERT ON card_events TO mnap_app;\n"
    "ALTER TABLE card_events ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE card_events FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON card_events\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n";

/* Version 3: the operator audit, hash-chained per municipality, and its
 * signed checkpoints.  Rows are never changed; a row younger than 366 days
 * is never deleted (the triggers use the database's clock). */
static const char v3_common[] =
    "CREATE TABLE audit_log (\n"
    "  municipality TEXT NOT NULL,\n"
    "  seq BIGINT NOT NULL,\n"
    "  at BIGINT NOT NULL,\n"
    "  operator TEXT NOT NULL,\n"
    "  command TEXT NOT NULL,\n"
    "  serial TEXT NOT NULL,\n"
    "  aid TEXT NOT NULL,\n"
    "  result TEXT NOT NULL,\n"
    "  ref BIGINT NOT NULL DEFAULT 0,\n"
    "  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),\n"
    "  hash TEXT NOT NULL CHECK (length(hash) = 64),\n"
    "  PRIMARY KEY (municipality, seq));\n"
    "CREATE INDEX audit_log_at ON audit_log (municipality, at);\n"
    "CREATE INDEX audit_log_ref ON audit_log (municipality, ref);\n"
    "CREATE TABLE audit_checkpoints (\n"
    "  municipality TEXT NOT NULL,\n"
    "  seq BIGINT NOT NULL,\n"
    "  head TEXT NOT NULL CHECK (length(head) = 64),\n"
    "  at BIGINT NOT NULL,\n"
    "  public_key TEXT NOT NULL,\n"
    "  signature TEXT NOT NULL,\n"
    "  PRIMARY KEY (municipality, at, seq));\n";
static const char v3_sqlite[] =
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit rows are never changed'); END;\n"
    "CREATE TRIGGER audit_log_keep BEFORE DELETE ON audit_log\n"
    "  WHEN OLD.at > CAST(strftime('%s', 'now') AS INTEGER) - 31622400\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit rows are kept 366 days'); END;\n"
    "CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are never changed'); END;\n"
    "CREATE TRIGGER audit_checkpoints_keep BEFORE DELETE ON audit_checkpoints\n"
    "  WHEN OLD.at > CAST(strftime('%s', 'now') AS INTEGER) - 31622400\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are kept 366 days'); END;\n";
static const char v3_pg[] =
    "ALTER TABLE audit_log OWNER TO mnap_owner;\n"
    "ALTER TABLE audit_checkpoints OWNER TO mnap_owner;\n"
    "REVOKE ALL ON audit_log, audit_checkpoints FROM PUBLIC;\n"
    "GRANT SELECT, INSERT, DELETE ON audit_log, audit_checkpoints TO mnap_app;\n"
    "CREATE FUNCTION mnap_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
    "BEGIN\n"
    "  IF TG_OP = 'UPDATE' THEN RAISE EXCEPTION 'audit rows are never changed' USING ERRCODE = '42501'; END IF;\n"
    "  IF OLD.at > extract(epoch FROM now())::bigint - 31622400 THEN\n"
    "    RAISE EXCEPTION 'audit rows are kept 366 days' USING ERRCODE = '42501'; END IF;\n"
    "  RETURN OLD;\n"
    "END $f$;\n"
    "ALTER FUNCTION mnap_audit_guard() OWNER TO mnap_owner;\n"
    "CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log\n"
    "  FOR EACH ROW EXECUTE FUNCTION mnap_audit_guard();\n"
    "CREATE TRIGGER audit_checkpoints_guard BEFORE UPDATE OR DELETE ON audit_checkpoints\n"
    "  FOR EACH ROW EXECUTE FUNCTION mnap_audit_guard();\n"
    "ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON audit_log\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n"
    "ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON audit_checkpoints\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n";

/* Version 4 (the operator console, issue #22): its tuning per
 * municipality, set by an admin, and the extra resident fields a
 * municipality records (docs/console.md). */
static const char v4_common[] =
    "CREATE TABLE tuning (\n"
    "  municipality TEXT NOT NULL REFERENCES municipalities(code),\n"
    "  key TEXT NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  changed_at BIGINT NOT NULL,\n"
    "  changed_by TEXT NOT NULL,\n"
    "  PRIMARY KEY (municipality, key));\n"
    "CREATE TABLE resident_extra (\n"
    "  municipality TEXT NOT NULL,\n"
    "  resident TEXT NOT NULL,\n"
    "  field TEXT NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  changed_at BIGINT NOT NULL,\n"
    "  changed_by TEXT NOT NULL,\n"
    "  PRIMARY KEY (municipality, resident, field),\n"
    "  FOREIGN KEY (municipality, resident) REFERENCES residents(municipality, number));\n";
static const char v4_pg[] =
    "ALTER TABLE tuning OWNER TO mnap_owner;\n"
    "ALTER TABLE resident_extra OWNER TO mnap_owner;\n"
    "REVOKE ALL ON tuning, resident_extra FROM PUBLIC;\n"
    "GRANT SELECT, INSERT, UPDATE, DELETE ON tuning, resident_extra TO mnap_app;\n"
    "ALTER TABLE resident_extra ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE resident_extra FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON resident_extra\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n"
    "ALTER TABLE tuning ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE tuning FORCE ROW LEVEL SECURITY;\n"
    "CREATE POLICY tenant ON tuning\n"
    "  USING (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'))\n"
    "  WITH CHECK (pg_has_role(current_user, 'mnap_m_' || municipality, 'MEMBER'));\n";

static const struct {
    int version;
    const char *common;
    const char *sqlite;
    const char *pg;
} migrations[] = {
    { 1, v1_common, NULL, v1_pg },
    { 2, v2_common, v2_sqlite, v2_pg },
    { 3, v3_common, v3_sqlite, v3_pg },
    { 4, v4_common, NULL, v4_pg },
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

int reg_schema_latest(void)
{
    return migrations[N_MIGRATIONS - 1].version;
}

/* The version in the database: 0 when it has no schema yet. */
static mnap_reg_err read_version(mnap_reg *r, int *out)
{
    reg_rows rows;
    mnap_reg_err e;
    const char *q = r->eng->pg ? "SELECT to_regclass('mnap_schema') IS NOT NULL"
                               : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mnap_schema'";

    *out = 0;
    e = reg_exec(r, q, 0, NULL, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    bool have = rows.nrows == 1 && reg_cell(&rows, 0, 0) != NULL &&
                (strcmp(reg_cell(&rows, 0, 0), "1") == 0 || strcmp(reg_cell(&rows, 0, 0), "t") == 0);
    reg_rows_free(&rows);
    if (!have) {
        return MNAP_REG_OK;
    }
    e = reg_exec(r, "SELECT max(version) FROM mnap_schema", 0, NULL, &rows);
    if (e != MNAP_REG_OK) {
        return e;
    }
    *out = (int)reg_i64(reg_cell(&rows, 0, 0));
    reg_rows_free(&rows);
    return MNAP_REG_OK;
}

mnap_reg_err mnap_reg_schema_version(mnap_reg *r, int *have, int *want)
{
    *want = reg_schema_latest();
    return read_version(r, have);
}

mnap_reg_err reg_schema_check(mnap_reg *r, bool migrate)
{
    int v = 0;
    mnap_reg_err e = read_version(r, &v);

    if (e != MNAP_REG_OK) {
        return e;
    }
    if (v > reg_schema_latest()) {
        reg_msg(r, "schema version %d, this program knows up to %d", v, reg_schema_latest());
        return MNAP_REG_E_SCHEMA_NEW;
    }
    if (v == reg_schema_latest()) {
        return MNAP_REG_OK;
    }
    if (!migrate) {
        reg_msg(r, "schema version %d, this program needs %d", v, reg_schema_latest());
        return MNAP_REG_E_SCHEMA_OLD;
    }
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        char ver[16];
        const char *p[1] = { ver };
        e = reg_begin(r, true);
        if (e == MNAP_REG_OK && r->eng->pg) {
            e = r->eng->script(r, "SELECT pg_advisory_xact_lock(724171800)");
        }
        /* Read again under the lock: another terminal may have upgraded. */
        if (e == MNAP_REG_OK) {
            e = read_version(r, &v);
        }
        if (e == MNAP_REG_OK && v < migrations[i].version) {
            e = r->eng->script(r, migrations[i].common);
            const char *own = r->eng->pg ? migrations[i].pg : migrations[i].sqlite;
            if (e == MNAP_REG_OK && own != NULL) {
                e = r->eng->script(r, own);
            }
            snprintf(ver, sizeof ver, "%d", migrations[i].version);
            if (e == MNAP_REG_OK) {
                e = reg_exec(r, "DELETE FROM mnap_schema", 0, NULL, NULL);
            }
            if (e == MNAP_REG_OK) {
                e = reg_exec(r, "INSERT INTO mnap_schema (version) VALUES (CAST($1 AS INTEGER))", 1, p, NULL);
            }
        }
        if (e == MNAP_REG_OK) {
            e = reg_commit(r);
        } else {
            reg_rollback(r);
        }
        if (e != MNAP_REG_OK) {
            return e;
        }
    }
    return MNAP_REG_OK;
}
