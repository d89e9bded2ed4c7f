#!/usr/bin/env python3
"""Peak memory of the worst import files that fit inside the limits (issue 23 item 1:
peak memory stays under 300 MB). Standard library only.

    python3 bench/import_memory.py BINARY

Makes each file in a temporary directory; for each file starts `BINARY serve --demo` on
a fresh data directory, resets the server's peak resident size (/proc/PID/clear_refs)
once it is up, uploads the file on the import page as the city centre's clerk
does (upload, then the preview), and reads the peak
(VmHWM). Prints one line per file: name|size|rows×cols|idle and peak MB|seconds|what the site said.
"""
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from clients import Client, upload_import  # noqa: E402

UPLOAD_MB = 20

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
</Types>"""
RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WB_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>"""
HEADER = ["信件编号", "来信人", "信件标题", "来信时间", "信件内容"]


def col(i):
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def xlsx(path, strings, rows):
    """A workbook: `strings` the shared strings, `rows` lists of cells (int = shared
    string index, str = inline text)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WB_RELS)
        with z.open("xl/sharedStrings.xml", "w") as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            for s in strings:
                f.write(f"<si><t>{s}</t></si>".encode())
            f.write(b"</sst>")
        with z.open("xl/worksheets/sheet1.xml", "w") as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for r, cells in enumerate(rows, 1):
                out = [f'<row r="{r}">']
                for c, v in enumerate(cells):
                    ref = f"{col(c)}{r}"
                    if isinstance(v, int):
                        out.append(f'<c r="{ref}" t="s"><v>{v}</v></c>')
                    else:
                        out.append(f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>')
                out.append("</row>")
                f.write("".join(out).encode())
            f.write(b"</sheetData></worksheet>")


def word(rng, n):
    return "".join(rng.choice("停水物业小区道路噪音供暖学校医院公交") for _ in range(n))


def make_files(d):
    rng = random.Random(7)
    files = []
    # 1. As many cells as fit in 100 MB unzipped: 125,000 rows × 20 columns (2,500,000 cells),
    #    each a text from a pool of 200,000 distinct shared strings (the reader holds a
    #    copy per cell), as large as fits in the upload limit.
    n_rows, n_cols = 125_000, 20
    strings = list(HEADER) + [f"h{i}" for i in range(len(HEADER), n_cols)]
    pool = len(strings)
    strings += [word(rng, 4) + str(i) for i in range(200_000)]
    rows = [list(range(n_cols))] + [
        [pool + rng.randrange(200_000) for _ in range(n_cols)] for _ in range(1, n_rows)
    ]
    p = os.path.join(d, "cells-3m.xlsx")
    xlsx(p, strings, rows)
    files.append((p, f"{n_rows}×{n_cols}"))
    # 2. A few huge texts: 4 cells of 22 MB each (88 MB unzipped), just under the
    #    compression-ratio limit.
    chunk = "".join(rng.choice("停水物业小区道路") if i % 97 == 0 else "水" for i in range(1_000_000))
    big = chunk * 7  # 7 M characters, 21 MB of UTF-8
    p = os.path.join(d, "huge-texts.xlsx")
    xlsx(p, HEADER, [list(range(5)), ["D1", "张三", "标题", "2019-01-01 09:00", big],
                     ["D2", "李四", "标题", "2019-01-02 09:00", big],
                     ["D3", "王五", "标题", "2019-01-03 09:00", big],
                     ["D4", "赵六", "标题", "2019-01-04 09:00", big]])
    files.append((p, "5×5"))
    # 3. A CSV of the upload limit in one-character cells: 100 to a row.
    line = (",".join(["a"] * 100) + "\r\n").encode()
    p = os.path.join(d, "tiny-cells.csv")
    with open(p, "wb") as f:
        f.write((",".join(HEADER + [f"c{i}" for i in range(95)]) + "\r\n").encode("utf-8"))
        f.write(line * ((UPLOAD_MB * 1024 * 1024 - 2000) // len(line)))
    files.append((p, f"{(UPLOAD_MB * 1024 * 1024) // len(line)}×100"))
    # 4. A CSV of the upload limit in plausible rows (GB18030, as Excel saves it), with
    #    phone numbers (every row's is looked up for repeats in the preview).
    p = os.path.join(d, "rows.csv")
    with open(p, "wb") as f:
        f.write((",".join(HEADER + ["联系电话"]) + "\r\n").encode("gb18030"))
        size, r = 0, 0
        while size < UPLOAD_MB * 1024 * 1024 - 400:
            r += 1
            phone = f"138{rng.randrange(100_000_000):08d}"
            row = f"D{r:07d},{word(rng, 3)},{word(rng, 10)},2019/2/28 11:25:05,{word(rng, 34)},{phone}\r\n"
            b = row.encode("gb18030")
            size += len(b)
            f.write(b)
    files.append((p, f"{r}×6"))
    return files


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def upload(base, path):
    """The import as a clerk does it (upload, then the preview); what the site said."""
    c = Client(base)
    c.login("center")
    status, page, form = upload_import(c, path)
    if status != 200 or "map_" not in page:
        said = re.search(r'class="field-error"[^>]*>(.*?)</(?:p|span|strong)>', page, re.S)
        text = re.sub(r"<[^>]+>", " ", said.group(1) if said else page[:300])
        return f"HTTP {status}: " + " ".join(text.split())[:160]
    status2, _, preview = c.post("/import/preview", form)
    preview = preview.decode()
    rows = re.search(r"可导入 <strong>(\d+)</strong> 行", preview)
    return f"HTTP {status}/{status2}; 可导入 {rows.group(1) if rows else '?'} 行"


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as d:
        files = make_files(d)
        for path, shape in files:
            t0 = time.time()
            said, idle, peak = measured(binary, os.path.join(d, "data-" + os.path.basename(path)), path)
            dt = time.time() - t0
            size = os.path.getsize(path) / 1024 / 1024
            print(f"{os.path.basename(path)}|{size:.1f} MB|{shape}|空闲 {idle:.0f} MB，峰值 {peak:.0f} MB|{dt:.1f} s|{said}")


def measured(binary, data, path):
    """A fresh server for one file: (what the site said, idle RSS, peak RSS in MB)."""
    port = free_port()
    env = dict(os.environ, LIUYAN_DATA_DIR=data, LIUYAN_BIND=f"127.0.0.1:{port}",
               LIUYAN_LOGIN_PER_MINUTE="1000", RUST_LOG="warn")
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen([binary, "serve", "--demo"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if Client(base).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)
        idle = vm(server.pid, "VmRSS")
        with open(f"/proc/{server.pid}/clear_refs", "w") as f:
            f.write("5")
        said = upload(base, path)
        return said, idle, vm(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
