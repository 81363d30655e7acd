#!/usr/bin/env bash
# test_package.sh BUILD_DIR FIXTURES_DIR: builds the .deb with CPack into a temp folder, checks its
# control data and file list, unpacks it into an empty root and runs the programs from there, and
# validates the desktop entry, AppStream metainfo, MIME type, man pages and bash completion.
# Registered in tests/CMakeLists.txt (label: package). Needs dpkg-dev (dpkg-shlibdeps) and file;
# desktop-file-validate, appstreamcli, update-mime-database and man are used when present.
set -euo pipefail

build=$(cd "${1:?usage: test_package.sh BUILD_DIR FIXTURES_DIR}" && pwd)
fixtures=$(cd "${2:?usage: test_package.sh BUILD_DIR FIXTURES_DIR}" && pwd)
app_id=io.github.headlight.Headlight
export QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive LC_ALL=C.UTF-8

tmp=$(mktemp -d "${TMPDIR:-/tmp}/headlight-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
has() { command -v "$1" >/dev/null 2>&1; }

model=""
for m in stories260k gpt2-tiny; do
  if [ -f "$fixtures/$m/config.json" ]; then model="$fixtures/$m"; break; fi
done
[ -n "$model" ] || { echo "FAIL: no fixture model (stories260k or gpt2-tiny) in $fixtures" >&2; exit 1; }

# --- 1. the package ---------------------------------------------------------------------------------
start=$(date +%s)
if ! cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/cpack" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  echo "FAIL: cpack -G DEB" >&2
  exit 1
fi
debs=("$tmp"/cpack/headlight_*.deb)
[ -f "${debs[0]}" ] || { echo "FAIL: cpack wrote no headlight_*.deb" >&2; ls "$tmp/cpack" >&2; exit 1; }
deb=${debs[0]}
ok "cpack: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB, $(($(date +%s) - start)) s"

# --- 2. control data --------------------------------------------------------------------------------
dpkg-deb -I "$deb" >"$tmp/info.txt"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = headlight ] && ok "Package: headlight" || fail "Package is '$(field Package)'"
[ -n "$(field Maintainer)" ] && ok "Maintainer: $(field Maintainer)" || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
[ "$(field Section)" = science ] || fail "Section is '$(field Section)'"
depends=$(field Depends)
for dep in libopenblas0-openmp libqt6core6 libqt6widgets6 libqt6gui6 libqcustomplot2.1-qt6 'libtorch[0-9.]*' libc6; do
  if echo "$depends" | tr ',' '\n' | sed 's/^ *//' | grep -Eq "^${dep}( |$)"; then ok "Depends has $dep"; else fail "Depends lacks $dep: $depends"; fi
done
echo "$depends" | grep -q 'libopenblas0-pthread' && fail "Depends names libopenblas0-pthread"
field Recommends | grep -q 'fonts-' && ok "Recommends fonts" || fail "Recommends no fonts: $(field Recommends)"

# --- 3. file list -----------------------------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$tmp/files.txt"
expect=(
  /usr/bin/headlight /usr/bin/headlight-cli
  /usr/share/applications/$app_id.desktop
  /usr/share/metainfo/$app_id.metainfo.xml
  /usr/share/mime/packages/$app_id.xml
  /usr/share/icons/hicolor/scalable/apps/$app_id.svg
  /usr/share/man/man1/headlight-cli.1.gz /usr/share/man/man1/headlight.1.gz
  /usr/share/bash-completion/completions/headlight-cli
  /usr/share/doc/headlight/copyright /usr/share/doc/headlight/changelog.gz
  /usr/share/headlight/demo/stories260k/model.safetensors /usr/share/headlight/demo/gutenberg_sample.jsonl
)
for size in 16 22 24 32 48 64 128 256; do expect+=("/usr/share/icons/hicolor/${size}x${size}/apps/$app_id.png"); done
missing=0
for f in "${expect[@]}"; do grep -qxF "$f" "$tmp/files.txt" || { fail "package lacks $f"; missing=1; }; done
[ $missing = 0 ] && ok "all ${#expect[@]} expected files in the package"
grep -v '^/usr/' "$tmp/files.txt" | grep -v '^/$' | grep -q . && fail "files outside /usr: $(grep -v '^/usr/' "$tmp/files.txt" | tr '\n' ' ')"
if dpkg-deb -c "$deb" | awk '{print $2}' | grep -qv '^root/root$'; then fail "files not owned by root/root"; fi

# --- 4. unpack into an empty root; run the programs from it ---------------------------------------------
root="$tmp/root"
mkdir "$root"
dpkg -x "$deb" "$root"
for exe in headlight headlight-cli; do
  bin="$root/usr/bin/$exe"
  [ -x "$bin" ] || { fail "$exe is not executable"; continue; }
  if readelf -d "$bin" | grep -Eq '\((RPATH|RUNPATH)\)'; then fail "$exe has an RPATH: $(readelf -d "$bin" | grep -E 'RPATH|RUNPATH')"; else ok "$exe: no RPATH/RUNPATH"; fi
  if strings -a "$bin" | grep -qF "$build"; then echo "note: $exe mentions the build folder (debug strings)"; fi
done
cli="$root/usr/bin/headlight-cli"
out=$("$cli" --help)
for word in "Usage: headlight-cli" info tokenize activations neurons study; do
  echo "$out" | grep -qF -- "$word" || fail "headlight-cli --help lacks '$word'"
done
ok "headlight-cli --help"
"$cli" --version | grep -q '^headlight-cli [0-9]' && ok "headlight-cli --version: $("$cli" --version)" || fail "headlight-cli --version"
out=$("$cli" info --model "$model") || fail "headlight-cli info --model $model exited $?"
echo "$out" | grep -q '^architecture: ' && echo "$out" | grep -Eq '^parameters: +[1-9][0-9]*$' \
  && ok "headlight-cli info --model $(basename "$model"): $(echo "$out" | grep '^shape:' | sed 's/  */ /g')" \
  || { fail "headlight-cli info output:"; echo "$out" >&2; }
"$cli" info --model "$model" --json | grep -q '"n_layers"' || fail "headlight-cli info --json"
demo="$root/usr/share/headlight/demo"
out=$("$cli" info --model "$demo/stories260k") && echo "$out" | grep -q '^architecture: llama' \
  && ok "headlight-cli info on the packaged demo model" || fail "headlight-cli info on the packaged demo model: $out"
"$cli" neurons --model "$demo/stories260k" --layers 4 --top 3 | grep -c '^L4N' | grep -qx 3 \
  && ok "headlight-cli neurons on the packaged demo model" || fail "headlight-cli neurons on the packaged demo model"
gui="$root/usr/bin/headlight"
"$gui" --version 2>&1 | grep -q '[0-9]\.[0-9]' && ok "headlight --version: $("$gui" --version 2>&1 | tail -1)" || fail "headlight --version"
"$gui" --help 2>&1 | grep -q 'bundle' && ok "headlight --help" || fail "headlight --help"

# --- 5. desktop entry, metainfo, MIME type, icons -----------------------------------------------------
desktop="$root/usr/share/applications/$app_id.desktop"
grep -qx 'Exec=headlight %f' "$desktop" || fail "desktop entry: Exec is not 'headlight %f'"
grep -qx 'MimeType=application/x-headlight;' "$desktop" || fail "desktop entry: MimeType"
grep -qx "Icon=$app_id" "$desktop" || fail "desktop entry: Icon"
grep -Eq '^Categories=.*Science;' "$desktop" || fail "desktop entry: Categories"
if has desktop-file-validate; then
  if desktop-file-validate "$desktop" >"$tmp/dfv.txt" 2>&1 && ! grep -Eq 'error|warning' "$tmp/dfv.txt"; then ok "desktop-file-validate"; else fail "desktop-file-validate: $(cat "$tmp/dfv.txt")"; fi
else
  echo "skip: desktop-file-validate not installed (desktop-file-utils)"
fi
metainfo="$root/usr/share/metainfo/$app_id.metainfo.xml"
grep -q "<launchable type=\"desktop-id\">$app_id.desktop</launchable>" "$metainfo" || fail "metainfo: launchable"
if has appstreamcli; then
  if appstreamcli validate --no-net "$metainfo" >"$tmp/as.txt" 2>&1; then ok "appstreamcli validate"; else fail "appstreamcli validate: $(cat "$tmp/as.txt")"; fi
else
  echo "skip: appstreamcli not installed (appstream)"
fi
if has update-mime-database; then
  mkdir -p "$tmp/mime/packages"
  cp "$root/usr/share/mime/packages/$app_id.xml" "$tmp/mime/packages/"
  if update-mime-database "$tmp/mime" 2>"$tmp/mime.txt" && grep -q 'application/x-headlight:\*\.headlight' "$tmp/mime/globs2"; then
    ok "shared-mime-info: *.headlight -> application/x-headlight"
  else
    fail "update-mime-database: $(cat "$tmp/mime.txt")"
  fi
else
  grep -q '<glob pattern="\*.headlight"/>' "$root/usr/share/mime/packages/$app_id.xml" || fail "MIME glob"
  echo "skip: update-mime-database not installed (shared-mime-info)"
fi
for size in 16 22 24 32 48 64 128 256; do
  png="$root/usr/share/icons/hicolor/${size}x${size}/apps/$app_id.png"
  file -b "$png" | grep -q "PNG image data, $size x $size" || fail "icon ${size}x${size}: $(file -b "$png")"
done
ok "icons: PNG 16..256 of the right sizes"

# --- 6. man pages: gzipped, render, name every option of every command ------------------------------------
for page in headlight-cli headlight; do
  gz="$root/usr/share/man/man1/$page.1.gz"
  gzip -t "$gz" || fail "$page.1.gz is not gzip"
  if has man; then
    if MANWIDTH=80 man --warnings -l "$gz" >"$tmp/$page.txt" 2>"$tmp/$page.err" && [ ! -s "$tmp/$page.err" ] && grep -q '^NAME' "$tmp/$page.txt"; then
      ok "man -l $page.1.gz renders ($(wc -l <"$tmp/$page.txt") lines)"
    else
      fail "man -l $page.1.gz: $(cat "$tmp/$page.err")"
    fi
  fi
done
zcat "$root/usr/share/man/man1/headlight-cli.1.gz" | sed 's/\\-/-/g; s/\\f[BIRP]//g' >"$tmp/cli.1.txt"
commands=$("$cli" --help | sed -n -E '/^Commands:/,/^$/ s/^  ([a-z][a-z0-9-]*) .*/\1/p')
subcommands=$("$cli" study --help | sed -n -E '/^Subcommands:/,/^$/ s/^  ([a-z][a-z0-9-]*) .*/\1/p')
[ -n "$commands" ] && [ -n "$subcommands" ] || fail "cannot read the command list from --help"
checked=0
check_options() {  # words of one command
  grep -qE -- "^\.SS \"?$*( |\"|\$)" "$tmp/cli.1.txt" || fail "man page has no section (.SS) for the command '$*'"
  local opts
  opts=$("$cli" "$@" --help | grep -E '^ {1,4}-' | sed -E 's/^ +//; s/  .*//; s/ <[^>]*>//' | tr ',' '\n' | sed 's/^ *//' | grep '^--' | grep -vx -- '--help' || true)
  for o in $opts; do
    checked=$((checked + 1))
    grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" "$tmp/cli.1.txt" || fail "man page lacks $o of '$*'"
  done
}
for c in $commands; do
  if [ "$c" = study ]; then
    for s in $subcommands; do check_options study "$s"; done
  else
    check_options "$c"
  fi
done
ok "man page names every command and all $checked options of their --help"
zcat "$root/usr/share/man/man1/headlight.1.gz" | sed 's/\\-/-/g; s/\\f[BIRP]//g' >"$tmp/gui.1.txt"
for o in $("$gui" --help 2>&1 | grep -E '^ {1,4}-' | sed -E 's/^ +//; s/  .*//; s/ <[^>]*>//' | tr ',' '\n' | sed 's/^ *//' | grep '^--' || true); do
  grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" "$tmp/gui.1.txt" || fail "headlight.1 lacks $o of headlight --help"
done

# --- 7. bash completion -------------------------------------------------------------------------------
completion="$root/usr/share/bash-completion/completions/headlight-cli"
comp_out=$(PATH="$root/usr/bin:$PATH" bash -c '
  source "$1"
  c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _headlight_cli headlight-cli; echo "${COMPREPLY[*]}"; }
  c headlight-cli ""
  c headlight-cli study ""
  c headlight-cli study run --mo
  c headlight-cli info --j
  c headlight-cli study explain --dry
' _ "$completion" 2>&1) || fail "bash completion failed: $comp_out"
expected_comp=("info tokenize activations neurons study help" "run info export merge ablate explain score" "--model" "--json" "--dry-run")
i=0
while IFS= read -r line; do
  if [ $i -lt ${#expected_comp[@]} ]; then
    case " $line " in
      *" ${expected_comp[$i]%% *} "*) ;;
      *) fail "completion $i: '$line', expected '${expected_comp[$i]}'" ;;
    esac
  fi
  i=$((i + 1))
done <<<"$comp_out"
[ $i -eq ${#expected_comp[@]} ] && ok "bash completion: commands, subcommands, options" || fail "bash completion output: $comp_out"

# --- 8. doc files -------------------------------------------------------------------------------------
grep -q '^License: GPL-3.0-or-later' "$root/usr/share/doc/headlight/copyright" && ok "copyright: GPL-3.0-or-later" || fail "copyright"
zcat "$root/usr/share/doc/headlight/changelog.gz" | head -1 | grep -q "^headlight ($(field Version))" \
  || fail "changelog.gz does not start with headlight ($(field Version))"

echo "test_package: $failures failure(s), $(($(date +%s) - start)) s"
[ "$failures" -eq 0 ]
