#!/usr/bin/env python3
"""Benchmark clients that wrk cannot be: a burst of real logins (each a fresh session
with its own CSRF token), an XLSX export behind the password confirmation, and the
three-step import of a platform spreadsheet. Standard library only.

    python3 bench/clients.py logins  BASE [SECONDS] [WORKERS]
    python3 bench/clients.py export  BASE USER QUERY
    python3 bench/clients.py import  BASE USER FILE
    python3 bench/clients.py register BASE USER [COUNT]
    python3 bench/clients.py clerks  BASE [COUNT]   (a server trusting 127.0.0.1 as proxy)
Each prints one line: name|value|p50|p99|detail (read by bench/run.sh).
"""
import http.client
import re
import sys
import threading
import time
import urllib.parse
import uuid

PASSWORD = "Anshun@2026"


class Client:
    def __init__(self, base, forwarded_for=None):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.cookies = {}
        # Behind the proxy: the desk's own address, as the proxy passes it on.
        self.forwarded_for = forwarded_for

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.setdefault("Origin", f"http://{self.host}:{self.port}")
        if self.forwarded_for:
            h["X-Forwarded-For"] = self.forwarded_for
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def token(self, path):
        _, _, html = self.request("GET", path)
        m = re.search(rb'name="csrf_token" value="([^"]*)"', html)
        return m.group(1).decode() if m else ""

    def post(self, path, fields):
        body = urllib.parse.urlencode(fields).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def login(self, user):
        t = self.token("/login")
        return self.post("/login", [("username", user), ("password", PASSWORD), ("csrf_token", t)])


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]


def in_threads(work, n):
    """Run `work` on `n` threads at once; the seconds until all are done."""
    threads = [threading.Thread(target=work) for _ in range(n)]
    start = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.time() - start


def logins(base, seconds=10.0, workers=32):
    lat, bad = [], [0]
    lock = threading.Lock()
    stop = time.time() + seconds

    def work():
        while time.time() < stop:
            c = Client(base)
            t = c.token("/login")
            t0 = time.time()
            status, headers, _ = c.post(
                "/login", [("username", "center"), ("password", PASSWORD), ("csrf_token", t)]
            )
            dt = time.time() - t0
            with lock:
                if status == 303 and headers.get("location") == "/":
                    lat.append(dt)
                else:
                    bad[0] += 1

    elapsed = in_threads(work, workers)
    print(f"登录（{workers} 并发）|{len(lat) / elapsed:.1f} 次/秒|{pct(lat, .5) * 1000:.0f}ms|{pct(lat, .99) * 1000:.0f}ms|失败 {bad[0]}")


def clerks(base, count=300):
    """The morning rush behind the reverse proxy: the 系统管理员 creates `count` clerks,
    who then all log in (16 at a time) through the one proxy address, each from a desk
    of its own; the login limit (30 a minute per address) must let every one in. Then a
    single desk sends 30 wrong passwords in a minute for `center`: it must be stopped
    (429 or held off), and even the right password from it is refused afterwards."""
    admin = Client(base, "10.200.0.1")
    admin.login("sysadmin")
    html = admin.request("GET", "/admin/users/new")[2].decode()
    # The clerks of a county (西秀区): the role 县区办理员 belongs to a county's unit.
    unit = re.search(r'<option value="(\d+)"[^>]*>[^<]*西秀区', html).group(1)
    people = []
    for n in range(count):
        token = re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)
        user = f"clerk{n:03d}"
        status, _, page = admin.post(
            "/admin/users",
            [("csrf_token", token), ("username", user), ("display_name", f"办理员{n}"),
             ("unit_id", unit), ("role", "county_operator")],
        )
        m = re.search(rb'<code>([^<]+)</code>', page)
        if status != 200 or not m:
            print(f"300 名办理员经同一代理登录|创建账户失败|||HTTP {status}（第 {n} 个）")
            return
        people.append((user, m.group(1).decode()))
        html = admin.request("GET", "/admin/users/new")[2].decode()
    lat, refused, other = [], [0], [0]
    lock = threading.Lock()
    queue = list(enumerate(people))

    def work():
        while True:
            with lock:
                if not queue:
                    return
                n, (user, password) = queue.pop()
            c = Client(base, f"10.{100 + n // 250}.{n % 250}.{1 + n % 200}")
            t = c.token("/login")
            t0 = time.time()
            status, _, _ = c.post("/login", [("username", user), ("password", password), ("csrf_token", t)])
            dt = time.time() - t0
            with lock:
                if status == 303:
                    lat.append(dt)
                elif status == 429:
                    refused[0] += 1
                else:
                    other[0] += 1

    elapsed = in_threads(work, 16)
    # One desk guessing at `center`: 30 wrong passwords within a minute.
    guess = Client(base, "10.250.0.9")
    stopped = 0
    for _ in range(30):
        t = guess.token("/login")
        status, _, _ = guess.post("/login", [("username", "center"), ("password", "Wrong@Guess2026"), ("csrf_token", t)])
        if status == 429:
            stopped += 1
        time.sleep(2)
    t = guess.token("/login")
    status, _, _ = guess.post("/login", [("username", "center"), ("password", PASSWORD), ("csrf_token", t)])
    after = "此后正确密码仍被拒" if status != 303 else "此后正确密码被接受（未拦住）"
    desk = Client(base, "10.250.0.10")
    t = desk.token("/login")
    status, _, _ = desk.post("/login", [("username", "center"), ("password", PASSWORD), ("csrf_token", t)])
    own = "center 在自己的电脑上照常登录" if status == 303 else f"center 在自己的电脑上也被拒（HTTP {status}）"
    print(
        f"{count} 名办理员经同一代理登录|{elapsed:.1f} s，{len(lat)} 人成功|{pct(lat, .5) * 1000:.0f}ms|{pct(lat, .99) * 1000:.0f}ms"
        f"|429 {refused[0]} 次，其他失败 {other[0]} 次；同一地址 30 次错误密码：{stopped} 次 429，{after}；{own}"
    )


def export(base, user, query):
    c = Client(base)
    c.login(user)
    t = c.token("/account/confirm?next=/")
    c.post("/account/confirm", [("password", PASSWORD), ("next", "/"), ("csrf_token", t)])
    t0 = time.time()
    status, headers, data = c.request("GET", "/messages/export?" + query)
    dt = time.time() - t0
    # Rows: count the CSV variant's lines for the same filter (not timed).
    _, _, csv = c.request("GET", "/messages/export?" + query.replace("format=xlsx", "format=csv"))
    rows = max(csv.count(b"\n") - 1, 0)
    print(f"导出 XLSX|{dt:.2f} s|{len(data) // 1024} KB|{rows} 行|HTTP {status}")


def upload_import(c, path):
    """The import's first step as a clerk does it: the upload form with the file. Returns
    (status, page, the mapping form the page offers for the preview and the commit)."""
    html = c.request("GET", "/import")[2].decode()
    token = re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)
    unit = re.search(r'<select id="reply_unit"[^>]*>.*?<option value="(\d+)"', html, re.S)
    fields = [
        ("csrf_token", token),
        ("platform", "其他"),
        ("level", "市级"),
        ("category", "城乡建设"),
        ("reply_unit", unit.group(1) if unit else ""),
    ]
    data = open(path, "rb").read()
    boundary = "----bench" + uuid.uuid4().hex
    body = b""
    for k, v in fields:
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    name = path.rsplit("/", 1)[-1]
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    status, _, page = c.request(
        "POST", "/import", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    page = page.decode()
    return status, page, import_form(page)


def import_form(page):
    """The hidden fields and the column choices of an import page's form."""
    form = []
    for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        if m.group(1) not in [k for k, _ in form]:
            form.append((m.group(1), m.group(2).replace("&#38;", "&")))
    for m in re.finditer(r'<select id="map_([^"]+)".*?</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(0))
        form.append(("map_" + m.group(1), chosen.group(1) if chosen else ""))
    return form


def import_file(base, user, path):
    c = Client(base)
    c.login(user)
    t0 = time.time()
    status, _, form = upload_import(c, path)
    status2, _, preview = c.post("/import/preview", form)
    preview = preview.decode()
    rows = re.search(r"可导入 <strong>(\d+)</strong> 行", preview)
    # The preview's own form: it records which mapping it checked.
    status3, headers, _ = c.post("/import/commit", import_form(preview))
    dt = time.time() - t0
    n = rows.group(1) if rows else "?"
    name = path.rsplit("/", 1)[-1]
    print(f"导入 {name}|{dt:.2f} s|{n} 行|HTTP {status}/{status2}/{status3}|{headers.get('location', '')}")


def register(base, user, count=20):
    """登记 as a clerk does, each with the 重复件 check over the whole archive: half of them
    repeat the title and 反映人 of a message already there (the check finds it and the
    clerk confirms), half are new. Times the registering POST (the warning and the
    confirmation count as one each)."""
    c = Client(base)
    c.login(user)
    _, _, listing = c.request("GET", "/messages")
    titles = re.findall(r'<a href="/messages/\d+">([^<]{6,40})</a>', listing.decode())
    times, warned = [], 0
    for i in range(count):
        html = c.request("GET", "/messages/new")[2].decode()
        token = re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)
        posted = re.search(r'name="posted_at"[^>]*value="([^"]*)"', html)
        title = titles[i % len(titles)] if (i % 2 == 0 and titles) else f"基准登记{uuid.uuid4().hex[:8]}路灯不亮"
        fields = [
            ("csrf_token", token), ("level", "市级"), ("source_platform", "市长信箱"),
            ("platform_ref", ""), ("complainant_name", f"基准{i}"),
            ("complainant_contact", f"139{i:04d}{i:04d}"), ("title", title),
            ("appeal", "基准测试：" + title), ("category", "投诉举报"),
            ("posted_at", posted.group(1) if posted else ""),
        ]
        t0 = time.time()
        status, _, page = c.post("/messages", fields)
        times.append(time.time() - t0)
        if status == 200 and "可能重复" in page.decode():
            warned += 1
            t0 = time.time()
            c.post("/messages", fields + [("confirm_duplicate", "1")])
            times.append(time.time() - t0)
    ms = lambda v: f"{v * 1000:.0f}ms"
    print(f"登记（含重复件检查）|{len(times)} 次|{ms(pct(times, 0.5))}|{ms(pct(times, 0.99))}|{warned} 次提示可能重复")


if __name__ == "__main__":
    cmd, base = sys.argv[1], sys.argv[2]
    if cmd == "logins":
        logins(base, float(sys.argv[3]) if len(sys.argv) > 3 else 10.0, int(sys.argv[4]) if len(sys.argv) > 4 else 32)
    elif cmd == "export":
        export(base, sys.argv[3], sys.argv[4])
    elif cmd == "import":
        import_file(base, sys.argv[3], sys.argv[4])
    elif cmd == "register":
        register(base, sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 20)
    elif cmd == "clerks":
        clerks(base, int(sys.argv[3]) if len(sys.argv) > 3 else 300)
