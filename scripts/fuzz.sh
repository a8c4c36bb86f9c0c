#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time: scripts/fuzz.sh [SECONDS per target, default 30].
#   - Installs cargo-fuzz (crates.io, --locked) when it is missing.
#   - Builds all targets once. cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP=1 lets the stable
#     toolchain accept them. No sanitizer (Accord forbids unsafe code; ASan would slow the build and every
#     run), 16 codegen units instead of cargo-fuzz's 1 (a much shorter cold build for slightly slower
#     runs); debug assertions and overflow checks stay on (-a).
#   - Runs each target from its committed seeds (fuzz/corpus/<target>, read-only) plus a scratch corpus
#     under fuzz/target, for SECONDS each, as many side by side as the machine has cores (FUZZ_JOBS
#     overrides; libFuzzer uses one core). Any crash fails the script and prints the crashing input's path
#     (fuzz/artifacts/<target>/crash-*); reproduce it with
#       RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none -a --codegen-units 16 <target> <that path>
#     and turn it into a regression test in tests/fuzz.rs.
# Targets: envelope, statement_json, checkpoint, proof_bundle, witness, web (see fuzz/fuzz_targets/).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

flags=(--sanitizer none --debug-assertions --codegen-units 16)
start=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "fuzz: built all targets in $(( $(date +%s) - start )) s"

targets=$(cargo fuzz list)
scratch=fuzz/target/corpus
mkdir -p "$scratch" fuzz/artifacts
# The web and witness targets keep their state in temporary directories: ours, removed on exit.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Side by side (see above); the results are reported in order once all have finished.
jobs="${FUZZ_JOBS:-$(nproc)}"
run_target() {
  local t=$1 status=0 seeds=()
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t"
  # The scratch corpus comes first: new inputs are written there, never into the committed seeds.
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  TMPDIR="$tmp" cargo fuzz run "${flags[@]}" "$t" "$scratch/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$tmp/$t.log" 2>&1 || status=$?
  echo "$status" > "$tmp/$t.status"
}
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "== fuzz $t (${secs} s)"
  run_target "$t" &
done
wait
failed=()
for t in $targets; do
  log="$tmp/$t.log"
  status=$(cat "$tmp/$t.status" 2>/dev/null || echo 1)
  echo "-- $t: $(grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" | tr '\n' ' ' || true)"
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    crash=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
    echo "fuzz: $t FAILED (exit $status); crashing input: ${crash:-see the log above}" >&2
    failed+=("$t")
  fi
done
echo "fuzz: $(echo $targets | wc -w) targets, ${secs} s each, $jobs at a time, wall time $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
