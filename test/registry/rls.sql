-- test/registry/rls.sql: the registry's row-level security on PostgreSQL,
-- checked with raw SQL (pgTAP), whatever a client would send on its own
-- connection.  Run by test/registry/pg.sh on a database that `mnap registry
-- init` migrated and where `mnap registry add-municipality` registered
-- 131016 (A) and 271004 (B); the script makes login roles of its own, in
-- one transaction that it rolls back.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
BEGIN;
SELECT plan(50);
-- pgTAP keeps its state in temporary tables; the roles below must write them.
GRANT ALL ON ALL TABLES IN SCHEMA pg_temp TO PUBLIC;
GRANT ALL ON ALL SEQUENCES IN SCHEMA pg_temp TO PUBLIC;

-- --- structure ------------------------------------------------------------------
-- Fails if any table holding a municipality's data lacks FORCE RLS or a policy.
SELECT is(
  (SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
     FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                     AND a.attname IN ('municipality') AND NOT a.attisdropped)
           OR c.relname = 'municipalities')
      AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
           OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))),
  NULL,
  'every resident, card and tenant table has ENABLE + FORCE ROW LEVEL SECURITY and a policy');
SELECT is(
  (SELECT count(*)::int FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'municipality')),
  11, 'eleven tables carry a municipality column (operators, sessions, residents, cards, issued_aps, service_ids, card_events, audit_log, audit_checkpoints, tuning, resident_extra)');
SELECT is(
  (SELECT string_agg(relname, ', ') FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v')
      AND relname IN ('mnap_schema','municipalities','operators','sessions','residents','cards',
                      'issued_aps','service_ids','stop_list','card_events','audit_log','audit_checkpoints',
                      'tuning','resident_extra')
      AND pg_get_userbyid(relowner) <> 'mnap_owner'),
  NULL, 'the tables and the view belong to mnap_owner');
SELECT ok(NOT (SELECT rolbypassrls OR rolsuper OR rolcanlogin FROM pg_roles WHERE rolname = 'mnap_owner'),
  'mnap_owner cannot log in, is no superuser and does not bypass RLS');
SELECT ok(NOT pg_has_role('mnap_app', 'mnap_owner', 'MEMBER'), 'the application role is not the owner');
SELECT ok(pg_has_role('mnap_m_131016', 'mnap_app', 'MEMBER') AND pg_has_role('mnap_k_131016', 'mnap_kiosk', 'MEMBER'),
  'registering a municipality made its terminal and kiosk roles');

-- --- data of two municipalities (as the DBA) --------------------------------------------
CREATE ROLE tap_a LOGIN IN ROLE mnap_m_131016;
CREATE ROLE tap_b LOGIN IN ROLE mnap_m_271004;
CREATE ROLE tap_kiosk LOGIN IN ROLE mnap_k_131016;
INSERT INTO operators VALUES ('131016', 'clerk', 'A', 'clerk', 'x', 0, 0, 0), ('271004', 'clerk', 'B', 'clerk', 'x', 0, 0, 0);
INSERT INTO sessions VALUES ('aa', '131016', 'clerk', 0, 9999999999), ('bb', '271004', 'clerk', 0, 9999999999);
INSERT INTO residents VALUES
  ('131016', '1', '甲', 'コウ', '1980-01-01', 'A city', 0, 'clerk'),
  ('131016', '2', '乙', 'オツ', '1981-01-01', 'A city', 0, 'clerk'),
  ('271004', '1', '丙', 'ヘイ', '1982-01-01', 'B city', 0, 'clerk');
INSERT INTO cards VALUES
  ('A000000000000001', '131016', '1', 'ACTIVE', 0, 'clerk', 0),
  ('A000000000000002', '131016', '2', 'SUSPENDED', 0, 'clerk', 0),
  ('B000000000000001', '271004', '1', 'STOPPED', 0, 'clerk', 0);
INSERT INTO issued_aps VALUES
  ('131016', 'A000000000000001', 'D276000101', 1, 'library', 'LOADED', 0, 'clerk', 0, 'clerk', NULL, NULL),
  ('271004', 'B000000000000001', 'D276000101', 1, 'library', 'LOADED', 0, 'clerk', 0, 'clerk', NULL, NULL);
INSERT INTO service_ids VALUES ('131016', '1', 'library', 'sa', 0), ('271004', '1', 'library', 'sb', 0);
INSERT INTO audit_log VALUES
  ('131016', 1, extract(epoch FROM now())::bigint, 'clerk', 'ap load', '-', '-', 'ok', 0, repeat('0', 64), repeat('a', 64)),
  ('131016', 2, 0, 'clerk', 'login', '-', '-', 'ok', 0, repeat('a', 64), repeat('b', 64)),
  ('271004', 1, 0, 'clerk', 'login', '-', '-', 'ok', 0, repeat('0', 64), repeat('c', 64));
INSERT INTO card_events VALUES ('131016', 'A000000000000002', 1, 'ACTIVE', 'SUSPENDED', 'missing', 'sup', 0),
  ('271004', 'B000000000000001', 1, 'ACTIVE', 'STOPPED', 'stolen', 'sup', 0);

-- --- a terminal of A: nothing of B, whatever SQL it sends -----------------------------------
SET ROLE tap_a;
SELECT is((SELECT count(*)::int FROM residents), 2, 'A sees its two residents');
SELECT is((SELECT count(*)::int FROM residents WHERE municipality = '271004'), 0, 'A gets zero residents of B');
SELECT is((SELECT count(*)::int FROM cards WHERE municipality = '271004'), 0, 'A gets zero cards of B');
SELECT is((SELECT count(*)::int FROM cards WHERE serial = 'B000000000000001'), 0, 'A cannot look up a card of B by serial');
SELECT is((SELECT count(*)::int FROM issued_aps WHERE municipality <> '131016'), 0, 'A gets zero issued APs of B');
SELECT is((SELECT count(*)::int FROM operators WHERE municipality <> '131016'), 0, 'A gets zero operators of B');
SELECT is((SELECT count(*)::int FROM sessions WHERE municipality <> '131016'), 0, 'A gets zero sessions of B');
SELECT is((SELECT count(*)::int FROM service_ids WHERE municipality <> '131016'), 0, 'A gets zero service IDs of B');
SELECT is((SELECT string_agg(code, ',') FROM municipalities), '131016', 'A sees only its own municipality (and service key)');
SELECT is((SELECT string_agg(serial, ',') FROM stop_list), 'A000000000000002', 'A''s stop list holds only A''s cards');
SELECT lives_ok($$UPDATE residents SET address = 'moved' WHERE municipality = '271004'$$, 'an UPDATE of B''s residents runs ...');
SELECT lives_ok($$UPDATE cards SET state = 'ACTIVE' WHERE serial = 'B000000000000001'$$, 'an UPDATE of B''s card runs ...');
SELECT lives_ok($$DELETE FROM residents WHERE municipality = '271004'$$, 'a DELETE of B''s residents runs ...');
SELECT lives_ok($$DELETE FROM issued_aps$$, 'a DELETE of every issued AP runs ...');
SELECT throws_ok($$INSERT INTO residents VALUES ('271004', '9', 'x', 'x', '1990-01-01', 'x', 0, 'clerk')$$,
  '42501', NULL, 'A cannot insert a resident of B');
SELECT throws_ok($$UPDATE residents SET municipality = '271004' WHERE number = '1'$$,
  '42501', NULL, 'A cannot move its resident to B');
SELECT throws_ok($$INSERT INTO operators VALUES ('271004', 'spy', 'x', 'admin', 'x', 0, 0, 0)$$,
  '42501', NULL, 'A cannot plant an operator in B');
SELECT throws_ok($$ALTER TABLE residents DISABLE ROW LEVEL SECURITY$$, '42501', NULL, 'A cannot switch RLS off');
-- (SET ROLE is checked against the session user, here the DBA running the
-- test, so membership is what is checked.)
SELECT ok(NOT pg_has_role(current_user, 'mnap_m_271004', 'MEMBER'), 'A''s role is not in B''s');
SELECT ok(NOT pg_has_role(current_user, 'mnap_owner', 'MEMBER'), 'A''s role is not the owner''s');
SELECT throws_ok($$INSERT INTO municipalities VALUES ('271004', 'x', 3, 'k', 0)$$, '42501', NULL,
  'A cannot add a municipality');
-- Card history is insert-only: no terminal may rewrite who stopped a card, or why.
SELECT is((SELECT string_agg(serial, ',') FROM card_events), 'A000000000000002', 'A sees only its own card history');
SELECT throws_ok($$UPDATE card_events SET reason = 'found'$$, '42501', NULL, 'A cannot change a card''s history');
SELECT throws_ok($$DELETE FROM card_events$$, '42501', NULL, 'A cannot delete a card''s history');
-- The audit: A's rows only; no row changed; none younger than 366 days deleted.
SELECT is((SELECT count(*)::int FROM audit_log), 2, 'A sees only its own audit rows');
SELECT throws_ok($$UPDATE audit_log SET result = 'x' WHERE seq = 2$$, '42501', NULL, 'A cannot change an audit row');
SELECT throws_ok($$DELETE FROM audit_log WHERE seq = 1$$, '42501', NULL, 'A cannot delete a young audit row');
SELECT lives_ok($$DELETE FROM audit_log WHERE at = 0$$, 'A may purge its rows older than 366 days ...');
SELECT is((SELECT count(*)::int FROM audit_log), 1, '... and only those');
RESET ROLE;
SET ROLE tap_kiosk;
SELECT throws_ok($$SELECT * FROM card_events$$, '42501', NULL, 'the kiosk cannot read card histories');
RESET ROLE;
SELECT is((SELECT address FROM residents WHERE municipality = '271004' AND number = '1'), 'B city',
  '... and changed no row of B (UPDATE)');
SELECT is((SELECT state FROM cards WHERE serial = 'B000000000000001'), 'STOPPED', '... no card of B');
SELECT is((SELECT count(*)::int FROM residents WHERE municipality = '271004'), 1, '... deleted no resident of B');
SELECT is((SELECT count(*)::int FROM issued_aps WHERE municipality = '271004'), 1, '... and no issued AP of B');
SELECT is((SELECT count(*)::int FROM issued_aps WHERE municipality = '131016'), 0, 'A''s own DELETE did delete A''s rows');

-- --- a terminal of B: the mirror ------------------------------------------------------------
SET ROLE tap_b;
SELECT is((SELECT string_agg(number, ',') FROM residents), '1', 'B sees its one resident');
SELECT is((SELECT count(*)::int FROM cards WHERE municipality = '131016'), 0, 'B gets zero cards of A');
SELECT is((SELECT count(*)::int FROM stop_list), 1, 'B''s stop list holds its stopped card');
RESET ROLE;

-- --- a kiosk group of A: the stop list and nothing else ------------------------------------------
SET ROLE tap_kiosk;
SELECT is((SELECT string_agg(serial || ':' || state, ',') FROM stop_list), 'A000000000000002:SUSPENDED',
  'the kiosk reads A''s stop list, without B''s and without ACTIVE cards');
SELECT throws_ok($$SELECT * FROM residents$$, '42501', NULL, 'the kiosk cannot read residents');
SELECT throws_ok($$SELECT * FROM cards$$, '42501', NULL, 'the kiosk cannot read the cards table');
SELECT throws_ok($$SELECT * FROM issued_aps$$, '42501', NULL, 'the kiosk cannot read issued APs');
SELECT throws_ok($$SELECT * FROM operators$$, '42501', NULL, 'the kiosk cannot read operators');
SELECT throws_ok($$DELETE FROM stop_list$$, '42501', NULL, 'the kiosk cannot change the stop list');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
