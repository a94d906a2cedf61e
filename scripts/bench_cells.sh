#!/bin/sh
# Runs the benchmark cell by cell so every (dataset, N) gets seeds before any gets all five; one job at a time
# (two torch processes on 2 cores slow each other down ~10x).
cd "$(dirname "$0")/.."
export HYPERSYNTH_DATA_DIR="${HYPERSYNTH_DATA_DIR:-../shared/data}"
cell() {  # dataset N seeds
  out=docs/bench/cell_$1_N$2_s$3
  [ -f $out.done ] && return
  bin/hypersynth bench --datasets $1 --labels-per-class $2 --seeds $3 --methods rf,svm,cnn,cnn-pseudo,augment \
    --splits random --preset fast --quiet --json $out.json --markdown $out.md > $out.log 2>&1 && touch $out.done
}
for c in "salinasA 5" "enmap_potsdam 5" "salinasA 2" "enmap_potsdam 2"; do cell $c 0-1; done
[ -f docs/bench/quality.done ] || { .venv/bin/python scripts/synthesis_quality.py --dataset salinasA --preset fast --out docs/quality > docs/bench/quality_salinasA.md 2>&1 && touch docs/bench/quality.done; }
[ -f docs/bench/unseen.done ] || { [ -f scripts/unseen_scenes.py ] && .venv/bin/python scripts/unseen_scenes.py --preset fast --methods rf,cnn,augment --labels-per-class 5 --seed 0 --work "${TMPDIR:-/tmp}/unseen_fast" > docs/bench/unseen.log 2>&1 && touch docs/bench/unseen.done; }
for s in 2 3 4; do
  for c in "salinasA 5" "enmap_potsdam 5" "salinasA 2" "enmap_potsdam 2"; do cell $c $s; done
done
