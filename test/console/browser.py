#!/usr/bin/python3
"""test/console/browser.py: the operator console driven in headless Chromium
(run by test/console/run.sh, which starts the console, the registry, pcscd and
the virtual card).  One line per test, "ok NAME" or "FAIL NAME: why"; exit 1
when any failed.  Screenshots of each main screen go to --out."""
import argparse
import csv as csvlib
import io
import os
import signal
import sqlite3
import ssl
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--ca", required=True)
ap.add_argument("--home", required=True)
ap.add_argument("--aid", required=True)
ap.add_argument("--registry", required=True)  # the registry (SQLite) the consoles share
ap.add_argument("--vcard-pid", type=int, required=True)
ap.add_argument("--fault-url", required=True)  # a console with MNAP_REG_FAULT=tuning-save
ap.add_argument("--short-url", required=True)  # a console whose sessions end after --short-ttl s
ap.add_argument("--short-ttl", type=float, required=True)
ap.add_argument("--state-dir", required=True)  # the main console's state_dir
A = ap.parse_args()
URL = A.url

profile = tempfile.mkdtemp(prefix="profile-", dir=A.home)
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--user-data-dir=" + profile, "--window-size=1100,900", "--lang=ja"):
    opts.add_argument(a)
env = dict(os.environ, HOME=A.home)
service = Service(executable_path="/usr/bin/chromedriver", env=env)
d = webdriver.Chrome(service=service, options=opts)
d.set_page_load_timeout(60)
d.set_script_timeout(30)

FAILS = []


def shot(name):
    d.save_screenshot(os.path.join(A.out, name + ".png"))


def text():
    # A page still being replaced can drop the node between the two calls.
    for _ in range(20):
        try:
            return d.find_element(By.TAG_NAME, "body").text
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    return d.find_element(By.TAG_NAME, "body").text


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def gone(el):
    # Chromium 156 answers a node of an unloaded page with "does not belong
    # to the document", which selenium 4.8 does not map to a stale element.
    try:
        el.is_enabled()
        return False
    except Exception:  # noqa: BLE001
        return True


def press(el_id):
    """Clicks a button that submits a form and waits for the next page."""
    el = d.find_element(By.ID, el_id)
    el.click()
    WebDriverWait(d, 90).until(lambda x: gone(el))
    WebDriverWait(d, 30).until(lambda x: x.execute_script("return document.readyState") == "complete")


def sql(query, *args):
    db = sqlite3.connect("file:%s?mode=ro" % A.registry, uri=True, timeout=30)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def login(user, password, url=None):
    d.get((url or URL) + "/login")
    d.find_element(By.ID, "id").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password)
    press("login")


def logout():
    press("logout")
    check(d.current_url.endswith("/login") and d.find_elements(By.ID, "login"),
          "not back at the login screen: %s %s" % (d.current_url, text()))


def outcome():
    return d.find_element(By.ID, "outcome")


def test(fn):
    try:
        fn()
        print("ok", fn.__name__, flush=True)
    except Exception as e:  # noqa: BLE001 (one line per failed test)
        FAILS.append(fn.__name__)
        print("FAIL %s: %s" % (fn.__name__, e), flush=True)
        traceback.print_exc(file=sys.stderr)
        try:
            shot("fail-" + fn.__name__)
        except Exception:  # noqa: BLE001
            pass


def t_https_headers():
    # The certificate verifies against the test CA; the security headers.
    ctx = ssl.create_default_context(cafile=A.ca)
    r = urllib.request.urlopen(URL + "/login", context=ctx, timeout=10)
    csp = r.headers.get("Content-Security-Policy", "")
    check("default-src 'none'" in csp and "script-src 'self'" in csp, "CSP: " + csp)
    cookies = r.headers.get_all("Set-Cookie") or []
    check(cookies and all("Secure" in c and "HttpOnly" in c and "SameSite=Strict" in c
                          for c in cookies), "cookies: %r" % cookies)


def t_clerk_card_flow():
    login("clerk1", "clerk password")
    check(d.find_elements(By.ID, "m-card"), "no home menu: " + text())
    body = text()
    for w in ("カード運用", "データ管理", "オペレータ管理", "システム設定", "clerk1", "千代田区"):
        check(w in body, "home lacks " + w)
    check("チューニング" not in body, "a clerk sees the tuning menu")
    for c in d.get_cookies():
        if c["name"] == "mnap_session":
            check(c["secure"] and c["httpOnly"] and c.get("sameSite") == "Strict", "cookie %r" % c)
    shot("home")
    press("m-card")
    shot("card")
    d.find_element(By.ID, "number").send_keys("100000000001")
    d.find_element(By.ID, "kanji").send_keys("山田 太郎")
    d.find_element(By.ID, "kana").send_keys("ヤマダ タロウ")
    d.find_element(By.ID, "birth").send_keys("1985-04-01")
    d.find_element(By.ID, "address").send_keys("東京都千代田区千代田1-1")
    # The extra field the admin added in the tuning test.
    d.find_element(By.ID, "extra0").send_keys("03-1234-5678")
    press("do-register")
    check("ok" in outcome().get_attribute("class"), "register: " + text())
    check("登録しました" in text(), "register outcome: " + text())
    shot("registered")
    d.get(URL + "/card")
    press("do-load")
    check("ok" in outcome().get_attribute("class"), "load: " + text())
    check("搭載しました" in text(), "load outcome: " + text())
    shot("loaded")
    d.get(URL + "/card")
    press("do-list")
    check(A.aid in d.find_element(By.ID, "aplist").text, "AP list: " + text())
    shot("aplist")
    logout()


def t_bad_input_changes_nothing():
    login("clerk1", "clerk password")
    d.get(URL + "/card")
    d.execute_script("document.getElementById('kanji').removeAttribute('maxlength');"
                     "document.getElementById('number').value='100000000002';"
                     "document.getElementById('kana').value='ア';"
                     "document.getElementById('birth').value='1990-01-01';"
                     "document.getElementById('address').value='x';")
    d.find_element(By.ID, "kanji").send_keys("長" * 200)
    press("do-register")
    check("ng" in outcome().get_attribute("class") and "何も変更していません" in text(),
          "over-long field: " + text())
    # (The search finds names, not numbers: the registry itself is asked.)
    check(not sql("SELECT number FROM residents WHERE number = '100000000002'"), "resident written after a refusal")
    logout()


def t_tuning_shows_on_next_page():
    login("admin", "admin password")
    press("m-tuning")
    shot("tuning")
    # A bad colour: refused, and the label typed with it is not stored.
    f = d.find_element(By.ID, "t-label_load")
    f.clear()
    f.send_keys("ここは保存されない")
    f = d.find_element(By.ID, "t-bg_color")
    f.clear()
    f.send_keys("red; background:url(x)")
    press("save-tuning")
    check("何も変更していません" in text(), "bad colour: " + text())
    d.get(URL + "/tuning")
    check(d.find_element(By.ID, "t-label_load").get_attribute("value") != "ここは保存されない",
          "a refused tuning form stored its label")
    f = d.find_element(By.ID, "t-label_list")
    f.clear()
    f.send_keys("カードの中身を見る / Show the card")
    f = d.find_element(By.ID, "t-bg_color")
    f.clear()
    f.send_keys("#ffeecc")
    f = d.find_element(By.ID, "t-extra_fields")
    f.clear()
    f.send_keys("電話番号 / Phone")
    press("save-tuning")
    check("保存しました" in text(), "tuning save: " + text())
    logout()
    login("clerk1", "clerk password")
    d.get(URL + "/card")
    check(d.find_element(By.ID, "do-list").text == "カードの中身を見る / Show the card",
          "label: " + d.find_element(By.ID, "do-list").text)
    check("電話番号 / Phone" in text(), "the extra field is not on the form")
    bg = d.execute_script("return getComputedStyle(document.body).backgroundColor")
    check(bg == "rgb(255, 238, 204)", "background " + bg)
    shot("card-tuned")
    logout()


def t_clerk_refused_admin_screens():
    login("clerk1", "clerk password")
    for path in ("/tuning", "/operators", "/settings"):
        d.get(URL + path)
        check("権限がありません" in text(), path + ": " + text())
    shot("refused")
    logout()
    # The refusal is a row of the registry's audit chain.
    rows = sql("SELECT result FROM audit_log WHERE operator = 'clerk1' AND command = 'console GET /tuning'")
    check(rows and rows[-1][0].startswith("refused: role clerk"), "refusal not audited: %r" % rows)


def t_three_wrong_passwords_lock():
    for i in range(3):
        login("clerk2", "wrong password %d" % i)
    check("ロックされています" in text(), "third wrong password: " + text())
    login("clerk2", "clerk password")
    check("ロックされています" in text(), "right password after lockout: " + text())
    shot("locked")


def t_admin_operators():
    # The admin adds a clerk and unlocks the one the lockout test locked.
    login("admin", "admin password")
    press("m-operators")
    form = "form[action='/operators/add'] "
    d.find_element(By.CSS_SELECTOR, form + "input[name=id]").send_keys("clerk3")
    d.find_element(By.CSS_SELECTOR, form + "input[name=name]").send_keys("窓口 三郎")
    d.find_element(By.CSS_SELECTOR, form + "input[name=password]").send_keys("clerk3 password")
    d.find_element(By.CSS_SELECTOR, form + "button").click()
    WebDriverWait(d, 30).until(lambda x: x.find_elements(By.ID, "outcome"))
    check("完了しました" in text(), "operator add: " + text())
    shot("operators")
    d.find_element(By.CSS_SELECTOR, "form[action='/operators/unlock'] input[name=id]").send_keys("clerk2")
    d.find_element(By.CSS_SELECTOR, "form[action='/operators/unlock'] button").click()
    WebDriverWait(d, 30).until(lambda x: "clerk2" in text())
    check("完了しました" in text(), "unlock: " + text())
    logout()
    for user, pw in (("clerk3", "clerk3 password"), ("clerk2", "clerk password")):
        login(user, pw)
        check(d.find_elements(By.ID, "m-card"), user + " cannot log in: " + text())
        logout()


def post(path, body, cookie, ctype="application/x-www-form-urlencoded", want_body=False):
    ctx = ssl.create_default_context(cafile=A.ca)
    rq = urllib.request.Request(URL + path, data=body if isinstance(body, bytes) else body.encode(),
                                method="POST", headers={"Content-Type": ctype, "Cookie": cookie})
    try:
        r = urllib.request.urlopen(rq, context=ctx, timeout=60)
        st, data, hdr = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        st, data, hdr = e.code, e.read(), e.headers
    return (st, data, hdr) if want_body else st


def session_cookie():
    return "mnap_session=" + [c for c in d.get_cookies() if c["name"] == "mnap_session"][0]["value"]


def multipart(fields, filename, content):
    b = "----mnapconsoletest7d1f"
    out = b""
    for k, v in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, k, v)).encode()
    out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: text/csv\r\n\r\n" % (b, filename)).encode() + content + b"\r\n"
    out += ("--%s--\r\n" % b).encode()
    return out, "multipart/form-data; boundary=" + b


GOOD_CSV = ("住民番号,氏名,氏名カナ,生年月日,住所\n"
            "200000000001,取込 一郎,トリコミ イチロウ,1970-01-01,東京都千代田区1-1\n"
            "200000000002,取込 二郎,トリコミ ジロウ,1971-02-02,\"東京都千代田区丸の内1-1, 2階\"\n"
            "200000000003,取込 三郎,トリコミ サブロウ,1972-03-03,東京都千代田区3-3\n")
BAD_CSV = ("住民番号,氏名,氏名カナ,生年月日,住所\n"
           "200000000011,失敗 一子,シッパイ イチコ,1980-01-01,東京都千代田区1-1\n"
           "200000000012,失敗 二子,シッパイ ニコ,1980-02-30,東京都千代田区2-2\n"
           "200000000013,失敗 三子,シッパイ サンコ,1980-03-03,東京都千代田区3-3\n")


def upload(content, name, encoding="utf-8"):
    path = os.path.join(A.home, name)
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(content)
    d.get(URL + "/data")
    d.find_element(By.ID, "import-file").send_keys(path)
    press("do-import")


def t_import_good():
    login("clerk1", "clerk password")
    press("m-data")
    upload(GOOD_CSV, "residents.csv")
    check("ok" in outcome().get_attribute("class") and "取り込みました" in text(), "import: " + text())
    table = d.find_element(By.ID, "imported").text
    for row in ("2 200000000001 取込 一郎", "3 200000000002 取込 二郎", "丸の内1-1, 2階", "4 200000000003"):
        check(row in table, "imported table lacks %r: %s" % (row, table))
    shot("import")
    n = sql("SELECT count(*) FROM residents WHERE number LIKE '20000000000_'")[0][0]
    check(n == 3, "residents in the registry: %d" % n)
    # The resident system's usual export: Shift_JIS (CP932), CRLF, chosen
    # automatically.
    upload("住民番号,氏名,氏名カナ,生年月日,住所\r\n200000000005,髙橋 五郎,タカハシ ゴロウ,1975-05-05,東京都千代田区5-5\r\n",
           "sjis.csv", "cp932")
    check("ok" in outcome().get_attribute("class"), "Shift_JIS import: " + text())
    check("2 200000000005 髙橋 五郎" in d.find_element(By.ID, "imported").text, "Shift_JIS row: " + text())
    logout()


def t_import_bad_changes_nothing():
    login("clerk1", "clerk password")
    upload(BAD_CSV, "bad.csv")
    check("ng" in outcome().get_attribute("class") and "何も取り込んでいません" in text(), "bad import: " + text())
    errs = d.find_element(By.ID, "import-errors").text
    # The line and the field, in the clerk's words; the clerk's file name,
    # not the console's temporary file.
    check("3 行目" in errs and "生年月日" in errs, "import errors: " + errs)
    check("upload-" not in errs and "--skip-bad" not in errs, "import errors: " + errs)
    check(len(d.find_elements(By.CSS_SELECTOR, "#import-errors li")) == 1, "one bad line, not: " + errs)
    shot("import-bad")
    n = sql("SELECT count(*) FROM residents WHERE number LIKE '20000000001_'")[0][0]
    check(n == 0, "a refused file added %d residents" % n)
    d.get(URL + "/data?q=" + urllib.parse.quote("失敗"))
    check("200000000011" not in d.find_element(By.TAG_NAME, "main").text, "the good line of a bad file was imported")
    logout()


# Fields a spreadsheet program would take for a formula (CSV injection), and
# apostrophes, as the file the import reads writes them: one apostrophe in
# front of = + - @ and of an apostrophe (docs/console.md).
GUARD_CSV = ("number,name_kanji,name_kana,birth_date,address\n"
             "200000000041,\"'=HYPERLINK(\"\"http://example.com/\"\",\"\"x\"\")\",'',1980-01-01,'-1\n"
             "200000000042,''',''=,1980-02-02,'@x\n"
             "200000000043,'+1,'a,1980-03-03,\"''b, c\"\n")
GUARD_ROWS = {"200000000041": ('=HYPERLINK("http://example.com/","x")', "'", "1980-01-01", "-1"),
              "200000000042": ("''", "'=", "1980-02-02", "@x"),
              "200000000043": ("+1", "'a", "1980-03-03", "'b, c")}


def residents(like):
    return {r[0]: r[1:] for r in sql("SELECT number, name_kanji, name_kana, birth_date, address FROM residents "
                                     "WHERE number LIKE ?", like)}


def t_export():
    login("clerk1", "clerk password")
    upload(GUARD_CSV, "guard.csv")
    check("ok" in outcome().get_attribute("class"), "import of formula-like fields: " + text())
    got = residents("20000000004_")
    check(got == GUARD_ROWS, "stored: %r" % got)
    d.get(URL + "/data")
    tok = d.find_element(By.CSS_SELECTOR, "form[action='/data/export'] input[name=csrf]").get_attribute("value")
    st, body, hdr = post("/data/export", "csrf=" + tok, session_cookie(), want_body=True)
    check(st == 200 and hdr.get("Content-Type", "").startswith("text/csv"), "export: %r %r" % (st, body[:200]))
    check("attachment" in hdr.get("Content-Disposition", ""), "disposition: %r" % hdr.get("Content-Disposition"))
    csv = body.decode("utf-8")
    check(csv.startswith("number,name_kanji,name_kana,birth_date,address\r\n"), "header: " + csv[:80])
    check('200000000002,取込 二郎,トリコミ ジロウ,1971-02-02,"東京都千代田区丸の内1-1, 2階"\r\n' in csv, "rows: " + csv)
    # A field starting with = + - @ or ' is written with one more apostrophe
    # (a spreadsheet shows it as text); no field starts with a formula.
    for row in ("200000000041,\"'=HYPERLINK(\"\"http://example.com/\"\",\"\"x\"\")\",'',1980-01-01,'-1\r\n",
                "200000000042,''',''=,1980-02-02,'@x\r\n",
                "200000000043,'+1,''a,1980-03-03,\"''b, c\"\r\n"):
        check(row in csv, "guarded row %r not in: %s" % (row, csv))
    for rec in csvlib.reader(io.StringIO(csv, newline="")):
        for f in rec:
            check(not f.startswith(("=", "+", "-", "@", "\t", "\r")), "a formula in %r" % rec)
    # The export reads back byte for byte: every row again under another
    # number (9 in front) has the stored values.
    before = residents("%")
    lines = csv.split("\r\n")
    check(lines[-1] == "" and len(lines) - 2 == len(before), "%d rows for %d residents" % (len(lines) - 2, len(before)))
    upload("\r\n".join(l if i == 0 or not l else "9" + l for i, l in enumerate(lines)), "again.csv")
    check("ok" in outcome().get_attribute("class"), "re-import of the export: " + text())
    after = residents("9%")
    check(after == {"9" + k: v for k, v in before.items()}, "round trip: %r != %r" % (after, before))
    rows = sql("SELECT result FROM audit_log WHERE operator = 'clerk1' AND command = 'console resident export'")
    check(rows and rows[-1][0].startswith("ok: "), "export not audited: %r" % rows)
    # Without the form token: refused.
    check(post("/data/export", "csrf=" + "0" * 64, session_cookie()) == 403, "export without a token")
    logout()


def t_import_too_big():
    # A file over the console's 16 MiB: refused, nothing imported, and the
    # part already received is not left on the terminal.
    login("clerk1", "clerk password")
    d.get(URL + "/data")
    tok = d.find_element(By.CSS_SELECTOR, "form[action='/data/import'] input[name=csrf]").get_attribute("value")
    big = GOOD_CSV.replace("20000000000", "20000000003").encode() + b"x" * (17 << 20)
    body, ctype = multipart({"csrf": tok, "encoding": "auto"}, "big.csv", big)
    st, page, _ = post("/data/import", body, session_cookie(), ctype, want_body=True)
    check(st == 400 and "何も変更していません" in page.decode("utf-8"), "too big: %r" % st)
    n = sql("SELECT count(*) FROM residents WHERE number LIKE '20000000003_'")[0][0]
    check(n == 0, "a refused file added %d residents" % n)
    left = [f for f in os.listdir(A.state_dir) if f.startswith("upload-")]
    check(not left, "uploads left in state_dir: %r" % left)
    logout()


def t_data_refused_without_right():
    # The auditor's role has neither resident-read nor resident-write.
    login("audit1", "audit password")
    d.get(URL + "/data")
    check("権限がありません" in text(), "/data for an auditor: " + text())
    tok = d.find_element(By.CSS_SELECTOR, "form[action='/logout'] input[name=csrf]").get_attribute("value")
    body, ctype = multipart({"csrf": tok, "encoding": "auto"}, "r.csv",
                            GOOD_CSV.replace("20000000000", "20000000002").encode())
    st = post("/data/import", body, session_cookie(), ctype)
    check(st == 403, "import by an auditor: status %r" % st)
    check(post("/data/export", "csrf=" + tok, session_cookie()) == 403, "export by an auditor")
    n = sql("SELECT count(*) FROM residents WHERE number LIKE '20000000002_'")[0][0]
    check(n == 0, "an auditor's import added %d residents" % n)
    rows = sql("SELECT result FROM audit_log WHERE operator = 'audit1' AND command = 'console POST /data/import'")
    check(rows and rows[-1][0] == "refused: role auditor; needs resident-read", "refusal not audited: %r" % rows)
    logout()


def t_tuning_fault_changes_nothing():
    # The registry fails after the first field of the form is written
    # (MNAP_REG_FAULT=tuning-save): nothing of the form stays.
    before = sql("SELECT key, value, changed_at FROM tuning ORDER BY key")
    login("admin", "admin password", A.fault_url)
    d.get(A.fault_url + "/tuning")
    for k, v in (("t-guidance", "途中で失敗する案内"), ("t-label_list", "途中で失敗するラベル"), ("t-bg_color", "#123456")):
        f = d.find_element(By.ID, k)
        f.clear()
        f.send_keys(v)
    press("save-tuning")
    check("ng" in outcome().get_attribute("class") and "何も変更していません" in text(), "faulty save: " + text())
    after = sql("SELECT key, value, changed_at FROM tuning ORDER BY key")
    check(before == after, "tuning changed: %r -> %r" % (before, after))
    d.get(URL + "/tuning")
    check(d.find_element(By.ID, "t-guidance").get_attribute("value") != "途中で失敗する案内", "guidance stored")
    rows = sql("SELECT result FROM audit_log WHERE operator = 'admin' AND command = 'console tuning'")
    check(rows and rows[-1][0].startswith("error: "), "failed save not audited: %r" % rows)
    logout()


def t_session_expiry():
    # A console whose sessions last --short-ttl seconds.
    S = A.short_url
    login("clerk1", "clerk password", S)
    d.get(S + "/card")
    for k, v in (("number", "300000000001"), ("kanji", "期限 切子"), ("kana", "キゲン キリコ"),
                 ("birth", "1990-01-01"), ("address", "東京都千代田区1-1")):
        d.find_element(By.ID, k).send_keys(v)
    time.sleep(A.short_ttl + 1.5)
    # The old page's form, sent with the ended session: refused, nothing changed.
    press("do-register")
    check("セッションが終了しているため、何も変更していません" in text() and d.find_elements(By.ID, "relogin"),
          "POST with an ended session: " + text())
    check(not sql("SELECT number FROM residents WHERE number = '300000000001'"), "the resident was added")
    rows = sql("SELECT operator, result FROM audit_log WHERE command = 'console POST /card/register'")
    check(rows and rows[-1] == ("-", "refused: session ended"), "not audited: %r" % rows)
    # The next request after expiry goes to the login screen, which says why.
    login("clerk1", "clerk password", S)
    check(d.find_elements(By.ID, "m-card"), "no home menu: " + text())
    time.sleep(A.short_ttl + 1.5)
    d.get(S + "/card")
    check(d.current_url.endswith("/login?ended=1") and d.find_elements(By.ID, "login"), "after expiry: " + d.current_url)
    check("セッションが終了しました" in text(), "no message after expiry: " + text())
    shot("session-ended")


def t_forged_post_refused():
    login("clerk1", "clerk password")
    sess = [c for c in d.get_cookies() if c["name"] == "mnap_session"][0]["value"]
    cookie = "mnap_session=" + sess
    # The operator's own session, but no form token, then a wrong one.
    st = post("/ap/delete", "aid=" + A.aid, cookie)
    check(st == 403, "forged POST without token: status %r" % st)
    st = post("/ap/delete", "aid=%s&csrf=%s" % (A.aid, "0" * 64), cookie)
    check(st == 403, "forged POST with a wrong token: status %r" % st)
    d.get(URL + "/card")
    press("do-list")
    check(A.aid in d.find_element(By.ID, "aplist").text, "the forged POST deleted the AP")
    d.get(URL + "/ap/list")
    check("権限" in text() or "ありません" in text() or "できません" in text(), "GET of a POST action: " + text())
    logout()


def t_card_pulled_mid_delete():
    # The virtual card loses power in the middle of the DELETE's NVM write
    # (mnap-vcard --cut-at E4:1:1), then comes back with start-up recovery.
    login("clerk1", "clerk password")
    d.get(URL + "/card")
    d.find_element(By.ID, "aid").send_keys(A.aid)
    press("do-delete")
    check("ng" in outcome().get_attribute("class") and "途切れました" in text(),
          "pulled mid-delete: " + text())
    shot("pulled")
    time.sleep(3)
    d.get(URL + "/card")
    press("do-list")
    check(d.find_elements(By.ID, "aplist"), "after the pull: " + text())
    logout()


def t_card_removed():
    login("clerk1", "clerk password")
    os.kill(A.vcard_pid, signal.SIGTERM)
    time.sleep(1.5)
    d.get(URL + "/card")
    press("do-list")
    check("カードが読めない" in text(), "no card: " + text())
    # The CLI's own line, from the Japanese catalogue (issue #21).
    check("リーダーにカードがありません" in text() or "カードが抜かれた" in text(),
          "the CLI's line is not in Japanese: " + text())
    shot("nocard")
    logout()


try:
    for t in (t_https_headers, t_tuning_shows_on_next_page, t_tuning_fault_changes_nothing,
              t_clerk_card_flow, t_bad_input_changes_nothing, t_import_good,
              t_import_bad_changes_nothing, t_import_too_big, t_export, t_data_refused_without_right,
              t_clerk_refused_admin_screens, t_session_expiry,
              t_three_wrong_passwords_lock, t_admin_operators, t_forged_post_refused,
              t_card_pulled_mid_delete, t_card_removed):
        test(t)
    d.get(URL + "/login")
    shot("login")
finally:
    d.quit()
print("console: %d failed" % len(FAILS) if FAILS else "console: all passed")
sys.exit(1 if FAILS else 0)
