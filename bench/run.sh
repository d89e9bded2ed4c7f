#!/usr/bin/env bash
# Benchmark: release build, a generated database (default 1,000,000 messages), the real
# server, wrk at 32 connections with a logged-in session; prints a table of requests/s,
# p50/p99 latency per page (and the ratio to /healthz) and the server's peak USS.
#
#   bash bench/run.sh                 # 1,000,000 messages in /tmp/liuyan-bench
#   MESSAGES=100000 bash bench/run.sh # smaller
#   DATABASE_URL=postgres://user@host/db BENCH_DIR=/tmp/liuyan-bench-pg MESSAGES=100000 \
#     bash bench/run.sh               # on PostgreSQL (an empty database; generated once)
#
# Needs: wrk (apt-get install wrk), curl. Results are appended to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-1000000}
GENERATED=""
DIR=${BENCH_DIR:-/tmp/liuyan-bench-$MESSAGES}
PORT=${PORT:-18999}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { echo "需要 wrk：apt-get install -y wrk"; exit 1; }

cargo build --release --locked
BIN=target/release/liuyan
DATA_ARG=()
[ -d ../shared/data ] && DATA_ARG=(--data ../shared/data)
BACKEND=SQLite
DONE="$DIR/liuyan.db"
if [ -n "${DATABASE_URL:-}" ]; then BACKEND=PostgreSQL; DONE="$DIR/generated"; fi
if [ ! -f "$DONE" ]; then
  mkdir -p "$DIR"
  echo "== generating $MESSAGES messages into $DIR ($BACKEND)"
  /usr/bin/time -o "$DIR/generate.txt" -f "%e s (peak RSS %M KB)" env LIUYAN_DATA_DIR="$DIR" "$BIN" generate --messages "$MESSAGES" "${DATA_ARG[@]}"
  GENERATED="Generated in this run: $(cat "$DIR/generate.txt"). "
  echo "generate: $(cat "$DIR/generate.txt")"
  [ "$BACKEND" = SQLite ] || touch "$DONE"
fi

# 智能分拨 seeded once from the shipped labelled files, so the 转办 form shows proposals
# (the training also reads the site's newest 100,000 confirmed messages).
if [ -d ../shared/data ] && [ ! -f "$DIR/dispatch-seeded" ]; then
  echo "== seeding 智能分拨"
  /usr/bin/time -f "classify --train: %e s (peak RSS %M KB)" env LIUYAN_DATA_DIR="$DIR" RUST_LOG=info "$BIN" classify --train ../shared/data/taidi2020_messages_sample.csv ../shared/data/taidi2020_labelled_dev.csv
  touch "$DIR/dispatch-seeded"
fi

echo "== starting the server"
if curl -sf "$BASE/healthz" >/dev/null 2>&1; then
  echo "端口 $PORT 上已有服务在运行：请先停止它（或设置 PORT）。"; exit 1
fi
START=$(date +%s.%N)
LIUYAN_DATA_DIR="$DIR" LIUYAN_LOGIN_PER_MINUTE=0 RUST_LOG=warn,liuyan::hot=info "$BIN" serve --bind "127.0.0.1:$PORT" > "$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
until curl -sf "$BASE/healthz" >/dev/null; do sleep 0.05; done
READY=$(echo "$(date +%s.%N) - $START" | bc)
echo "start-up: ${READY} s"
# 热点发现 regroups the last year in the background after a start: wait for it, so that
# it does not weigh on the pages timed (and report how long it took).
for _ in $(seq 1 1200); do grep -q '热点发现已重新计算' "$DIR/server.log" && break; sleep 0.5; done
HOT_SECONDS=$(sed 's/\x1b\[[0-9;]*m//g' "$DIR/server.log" | grep -m1 '热点发现已重新计算' | grep -o 'seconds=[0-9.]*' | cut -d= -f2 || true)
HOT_LINE="热点发现（启动后后台全部重新计算）|${HOT_SECONDS:-?} s|||最近一年的留言：读取、分组、写入"
echo "$HOT_LINE"

PEAK=0
sample_uss() {
  while kill -0 $PID 2>/dev/null; do
    # The server's own memory: its anonymous pages. Private_Clean would also count the
    # pages of the database file SQLite reads through its memory map — the kernel's page
    # cache, shared and reclaimable, not the server's.
    U=$(awk '/^Anonymous/ {s+=$2} END {print s}' /proc/$PID/smaps_rollup 2>/dev/null || echo 0)
    echo "$U" >> "$DIR/uss.txt"
    sleep 0.2
  done
}
: > "$DIR/uss.txt"
sample_uss &
SAMPLER=$!

login() {
  local jar=$DIR/jar_$1.txt
  rm -f "$jar"
  local t
  t=$(curl -s -c "$jar" -b "$jar" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
  curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "username=$1" --data-urlencode "password=Anshun@2026" --data-urlencode "csrf_token=$t" "$BASE/login"
  grep -o 'liuyan_session[[:space:]]*[^[:space:]]*$' "$jar" | awk '{print $2}'
}
CENTER=$(login center)
XIXIU=$(login xixiu)
MSG=$(curl -s -b "liuyan_session=$CENTER" "$BASE/messages?state=archived" | grep -o 'href="/messages/[0-9]*"' | head -1 | grep -o '[0-9]*')
YEAR=$(date +%Y)
UNIT=$(curl -s -b "liuyan_session=$CENTER" "$BASE/messages" | grep -o 'option value="[0-9]*"' | head -1 | grep -o '[0-9]*')

declare -a ROWS
run() { # name cookie path
  local out rps p50 p99
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 10s --latency -H "Cookie: liuyan_session=$2" "$BASE$3" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local non2xx
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  ROWS+=("$1|$rps|$p50|$p99|${non2xx:-0}")
  echo "$1: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}"
}
# Fast pages first: a slow page leaves queued requests behind that would weigh on the next.
run "/healthz" "$CENTER" "/healthz"
run "列表第1页（筛选）" "$CENTER" "/messages?state=archived&category=%E5%9F%8E%E4%B9%A1%E5%BB%BA%E8%AE%BE"
# Page 5,000 reached the way a clerk gets there: the “下一页” link continues from an id.
DEEP=$(curl -s -b "liuyan_session=$CENTER" "$BASE/messages" | grep -o 'href="/messages/[0-9]*"' | head -1 | grep -o '[0-9]*')
DEEP=$((DEEP - 99980))
run "列表第5000页" "$CENTER" "/messages?page=5000&before=$DEEP"
run "留言页" "$CENTER" "/messages/$MSG"
run "档案页" "$CENTER" "/messages/$MSG/archive"
# A message waiting for 转办: its page holds the 转办 form with the 智能分拨 proposals.

run "检索 2 字" "$CENTER" "/messages?q=%E5%81%9C%E6%B0%B4"
run "检索 3 字" "$CENTER" "/messages?q=%E7%89%A9%E4%B8%9A%E8%B4%B9"
# Searches on PostgreSQL take up to seconds: let the requests wrk left in flight finish
# before the next page is timed.
sleep 5
run "待办 (xixiu)" "$XIXIU" "/"
# The summaries are computed once per change of the data and then reused (src/cache.rs):
# the first view after a change is timed on its own, then the load runs.
declare -a COLD
cold() { # name cookie path
  local t
  t=$(curl -s -o /dev/null -m 300 -w '%{time_total}' -b "liuyan_session=$2" "$BASE$3")
  COLD+=("$1（数据变更后首次）|${t} s|||单个请求")
  echo "$1 first view: ${t} s"
}
sleep 5
# A message waiting for 转办: its page holds the 转办 form with the 智能分拨 proposals and
# the 重复件 candidates looked up over the whole archive (kept until the data changes).
REG=$(curl -s -b "liuyan_session=$CENTER" "$BASE/messages?state=registered" | grep -o 'href="/messages/[0-9]*"' | head -1 | grep -o '[0-9]*')
cold "转办表单（智能分拨）" "$CENTER" "/messages/$REG"
run "转办表单（智能分拨）" "$CENTER" "/messages/$REG"
sleep 5
cold "总览" "$CENTER" "/dashboard"
run "总览" "$CENTER" "/dashboard"
sleep 5
run "热点问题列表" "$CENTER" "/hot"
sleep 5
cold "年度统计" "$CENTER" "/stats?from=$YEAR-01-01&to=$YEAR-12-31"
run "年度统计" "$CENTER" "/stats?from=$YEAR-01-01&to=$YEAR-12-31"
sleep 5
cold "考评排名" "$CENTER" "/scores?year=$YEAR"
run "考评排名" "$CENTER" "/scores?year=$YEAR"

sleep 5
# A 10,000-row XLSX export (after the password confirmation exports need), and the login
# burst: 32 clients each logging in over and over with a fresh session.
EXPORT_LINE=$(python3 bench/clients.py export "$BASE" center "format=xlsx&from=$YEAR-01-01&to=$YEAR-01-18")
echo "$EXPORT_LINE"
LOGIN_LINE=$(python3 bench/clients.py logins "$BASE" 10 32)
echo "$LOGIN_LINE"
# 登记 with the 重复件 check over the whole archive (last: it adds messages).
REGISTER_LINE=$(python3 bench/clients.py register "$BASE" center 20)
echo "$REGISTER_LINE"

kill $SAMPLER 2>/dev/null || true
# Importing the real 2,816-row reply file: into a fresh database on a second server (the
# importer refuses what it already holds, so the benchmark database would take it once).
IMPORT_LINE="导入 taidi2020_replies.xlsx|（未找到 ../shared/data，跳过）"
if [ -f ../shared/data/taidi2020_replies.xlsx ]; then
  IDIR=$(mktemp -d /tmp/liuyan-bench-import.XXXXXX)
  env -u DATABASE_URL LIUYAN_DATA_DIR="$IDIR" LIUYAN_LOGIN_PER_MINUTE=0 RUST_LOG=warn "$BIN" serve --demo --bind "127.0.0.1:$((PORT + 1))" > "$IDIR/server.log" 2>&1 &
  IPID=$!
  until curl -sf "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null; do sleep 0.05; done
  IMPORT_LINE=$(python3 bench/clients.py import "http://127.0.0.1:$((PORT + 1))" center ../shared/data/taidi2020_replies.xlsx)
  kill $IPID 2>/dev/null || true
  wait $IPID 2>/dev/null || true
  rm -rf "$IDIR"
fi
echo "$IMPORT_LINE"
# The morning rush behind the reverse proxy: 300 clerks created by the 系统管理员 log in
# through the one proxy address (each desk its own X-Forwarded-For), with the login limit
# on; then one desk guessing at `center` must be stopped (a fresh demo site on SQLite).
CDIR=$(mktemp -d /tmp/liuyan-bench-clerks.XXXXXX)
env -u DATABASE_URL LIUYAN_DATA_DIR="$CDIR" LIUYAN_TRUSTED_PROXIES=127.0.0.1 RUST_LOG=warn "$BIN" serve --demo --bind "127.0.0.1:$((PORT + 2))" > "$CDIR/server.log" 2>&1 &
CPID=$!
until curl -sf "http://127.0.0.1:$((PORT + 2))/healthz" >/dev/null; do sleep 0.05; done
CLERKS_LINE=$(python3 bench/clients.py clerks "http://127.0.0.1:$((PORT + 2))" 300)
kill $CPID 2>/dev/null || true
wait $CPID 2>/dev/null || true
rm -rf "$CDIR"
echo "$CLERKS_LINE"
PEAK=$(sort -n "$DIR/uss.txt" | tail -1)
HEALTH=$(echo "${ROWS[0]}" | cut -d'|' -f2)
{
  echo
  echo "### $(date '+%Y-%m-%d %H:%M') — $MESSAGES messages, $BACKEND, $(nproc) cores, $CONNS connections, $DURATION each"
  echo
  echo "$(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB. ${GENERATED}Start-up ${READY} s; server peak private (anonymous) memory $((PEAK / 1024)) MB."
  echo
  echo "| page | req/s | p50 | p99 | ratio to /healthz | non-2xx |"
  echo "|---|---:|---:|---:|---:|---:|"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r name rps p50 p99 bad <<< "$r"
    ratio=$(echo "scale=3; $rps / $HEALTH" | bc 2>/dev/null || echo "-")
    echo "| $name | $rps | $p50 | $p99 | $ratio | $bad |"
  done
  echo
  echo "| measured once | result | | | detail |"
  echo "|---|---:|---:|---:|---|"
  for line in "$HOT_LINE" "${COLD[@]}" "$LOGIN_LINE" "$EXPORT_LINE" "$REGISTER_LINE" "$IMPORT_LINE" "$CLERKS_LINE"; do
    echo "| ${line//|/ | } |"
  done
} | tee -a bench/results.md
