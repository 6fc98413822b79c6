#!/bin/sh
# web.sh — `make test-web`: the live teaching page in a real browser. Builds build/web (make web),
# serves the checkout from a loopback-only server (web/serve.c, attx-serve, on 127.0.0.1,
# started and stopped here), has headless chromium open the page in its test mode (?model=&text=&methods=:
# the page fetches the model from that server, explains the sentence in WebAssembly and writes
# its values into #attx-result), and compares the predicted class, each method's scores (1e-5)
# and its three top tokens with native `attx explain --json`. The screenshot is kept as
# build/web/test-web.png. Skipped with a message when emcc or chromium is missing.
# usage: sh test/web.sh ATTX WEB_DIR "MAKE-COMMAND-FOR-WEB" TEST_BIN_DIR
# (TEST_BIN_DIR holds web_check, the comparison; WEB_DIR attx-serve, the loopback server.)
set -eu
attx=$1 web=$2 make_web=$3 bin=$4
if ! command -v chromium >/dev/null 2>&1; then
    echo "test-web: skipped: chromium is not installed (apt-get install -y chromium)"
    exit 0
fi
# make web installs emscripten as root; elsewhere, without emcc, it says how and the test skips
if ! $make_web >/dev/null; then
    if ! command -v emcc >/dev/null 2>&1; then
        echo "test-web: skipped: emcc is not installed (apt-get install -y emscripten)"
        exit 0
    fi
    echo "test-web: FAILED: make web"
    exit 1
fi
model=${ATTX_WEB_MODEL:-data/sst2-bert.safetensors}   # ATTX_WEB_MODEL: another text model under the checkout
text="a gripping, beautifully shot film that never lets go"
methods=grad-att-max-mutual,grad-att-mutual,grad-att-cls,att-cls,grad-sam,grad-x-input,rollout
tmp=$(mktemp -d)
"$web/attx-serve" 0 "$tmp/port" >"$tmp/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
query="model=$("$bin/web_check" urlencode "/$model")&text=$("$bin/web_check" urlencode "$text")&methods=$("$bin/web_check" urlencode "$methods")"
url="http://127.0.0.1:$port/$web/attx.html?$query"
browse() {
    timeout 300 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/profile" \
        --virtual-time-budget=300000 "$@" "$url" 2>>"$tmp/chromium.log"
}
browse --dump-dom >"$tmp/dom.html"
browse --screenshot="$web/test-web.png" --window-size=1400,2200 >/dev/null
"$attx" explain "$model" "$text" --method "$methods" --json >"$tmp/native.json"
"$bin/web_check" compare "$tmp/dom.html" "$tmp/native.json"
echo "test-web: screenshot $web/test-web.png"
