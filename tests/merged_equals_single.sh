# Sourced by the scale-out tests (test_slurm.sh, test_parallel_scan.sh).
# merged_equals_single MERGED.headlight: runs the same study on one machine (CLI, HEADLIGHT_MODEL,
# HEADLIGHT_CORPUS, ARGS, T as the caller set them) and checks that both export the same JSON, apart
# from the creation time, the shard fields and the model path relative to each bundle's folder. Calls the caller's fail() otherwise.
merged_equals_single() {
  local merged=$1
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 "$CLI" study run --model "$HEADLIGHT_MODEL" --corpus "$HEADLIGHT_CORPUS" $ARGS \
    --out "$T/single.headlight" >"$T/single.log" 2>&1 || { cat "$T/single.log"; fail "single study run failed"; }
  "$CLI" study export "$T/single.headlight" --json >"$T/single.json" || fail "export single"
  "$CLI" study export "$merged" --json >"$T/merged.json" || fail "export merged"
  python3 - "$T/single.json" "$T/merged.json" <<'PY' || fail "merged != single"
import json, sys
def load(p):
    j = json.load(open(p))
    j["provenance"].pop("created_at", None)
    j["provenance"].pop("model_path_relative", None)  # relative to each bundle's own folder
    j["parameters"].pop("shard_index", None)
    j["parameters"].pop("shard_count", None)
    return j
a, b = load(sys.argv[1]), load(sys.argv[2])
assert len(a["neurons"]) == 2, "expected 2 neurons, got %d" % len(a["neurons"])
if a != b:
    print("exports differ:", [k for k in set(a) | set(b) if a.get(k) != b.get(k)])
    for k in set(a["provenance"]) | set(b["provenance"]):
        if a["provenance"].get(k) != b["provenance"].get(k):
            print("  provenance.%s: single %r, merged %r" % (k, a["provenance"].get(k), b["provenance"].get(k)))
    sys.exit(1)
print("merged == single (%d neurons)" % len(a["neurons"]))
PY
}
