#!/usr/bin/env bash
# UI review: screenshots of every main page as each role, with headless Chromium, from a
# fresh demo site. Look at them (any image viewer) before and after a change to the pages.
#
#   bash scripts/screenshots.sh [OUT_DIR]      # default /tmp/liuyan-screens
#   WIDTH=1920 bash scripts/screenshots.sh DIR # a wide office screen (default 1280)
#
# Needs chromium and fonts-noto-cjk (apt-get install -y chromium fonts-noto-cjk) and curl.
# Each page is fetched with the role's session by curl and drawn by Chromium from a local
# copy (a <base> element points the stylesheet back at the site), $WIDTH px wide; pages
# marked "print" are also printed to PDF as a clerk would print them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/liuyan-screens}
PORT=${PORT:-18777}
WIDTH=${WIDTH:-1280}
BASE="http://127.0.0.1:$PORT"
command -v chromium >/dev/null || { echo "需要 chromium：apt-get install -y chromium fonts-noto-cjk"; exit 1; }
mkdir -p "$OUT"
DATA=$(mktemp -d /tmp/liuyan-screens-data.XXXXXX)
# BIN=target/debug/liuyan uses a build at hand instead of building the release binary.
BIN=${BIN:-target/release/liuyan}
[ "$BIN" = target/release/liuyan ] && cargo build --release --locked --quiet
LIUYAN_DATA_DIR="$DATA" LIUYAN_LOGIN_PER_MINUTE=0 RUST_LOG=warn "$BIN" serve --demo --bind "127.0.0.1:$PORT" > "$DATA/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
until curl -sf "$BASE/healthz" >/dev/null; do sleep 0.1; done

login() { # user -> cookie jar
  local jar="$DATA/jar_$1"
  local t
  t=$(curl -s -c "$jar" -b "$jar" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
  curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "username=$1" --data-urlencode "password=Anshun@2026" --data-urlencode "csrf_token=$t" "$BASE/login"
  echo "$jar"
}

browser() { # headless Chromium with a profile of its own each time (one retry)
  local i profile
  for i in 1 2; do
    profile=$(mktemp -d "$DATA/profile.XXXXXX")
    if chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
      --disable-background-networking --disable-component-update --no-first-run \
      --user-data-dir="$profile" "$@" >/dev/null 2>&1; then
      return 0
    fi
  done
  echo "chromium failed: $*" >&2
}

shot() { # user jar path [print]
  local name
  name="$1$(echo "$3" | tr '/?=&' '____')"
  local html="$DATA/$name.html"
  curl -s -b "$2" "$BASE$3" | sed "s|<head>|<head><base href=\"$BASE/\">|" > "$html"
  browser --hide-scrollbars --screenshot="$OUT/$name.png" --window-size=$WIDTH,1400 "file://$html"
  if [ "${4:-}" = print ]; then
    browser --no-pdf-header-footer --print-to-pdf="$OUT/$name.pdf" "file://$html"
  fi
  echo "$OUT/$name.png"
}

CENTER=$(login center)
MSG=$(curl -s -b "$CENTER" "$BASE/messages?state=archived" | grep -o 'href="/messages/[0-9]*"' | head -1 | grep -o '[0-9]*')
RUNNING=$(curl -s -b "$CENTER" "$BASE/messages?state=handling" | grep -o 'href="/messages/[0-9]*"' | head -1 | grep -o '[0-9]*')
YEAR=$(date +%Y)
for p in / /messages /messages/new "/messages/$RUNNING" /dashboard "/stats?from=$YEAR-01-01&to=$YEAR-12-31" \
         /archive /archive/periods /archive/check "/scores?year=$YEAR" /scores/entries /settings \
         /settings/holidays /settings/lists /settings/rules /settings/templates /import /account/2fa; do
  shot center "$CENTER" "$p"
done
shot center "$CENTER" "/messages/$MSG/archive" print
shot center "$CENTER" "/bulletin?kind=month" print
for u in xixiu zhujian leader; do
  J=$(login $u)
  for p in / /messages /dashboard "/scores?year=$YEAR"; do shot $u "$J" "$p"; done
done
J=$(login sysadmin); for p in /admin/units /admin/users /admin/users/new; do shot sysadmin "$J" "$p"; done
J=$(login secadmin); shot secadmin "$J" /security
J=$(login auditor); for p in /audit /audit/verify; do shot auditor "$J" "$p"; done
echo "截图已保存到 $OUT"
