#!/bin/sh
# Runs the benchmark cell by cell, seed by seed, so every (dataset, N) gets seeds before any gets all five; one job
# at a time (two torch processes on 2 cores slow each other down ~10x). Each run is its own JSON in docs/bench/;
# `bin/hypersynth bench --merge docs/bench/cell_NAME_*.json` makes the table (one run's NAME: runs of other names are
# other settings, which a merge refuses to mix). A finished run is not repeated; an unfinished
# one (its JSON without .done) is run again and replaces its own JSON (--overwrite).
# SPLIT=disjoint runs the spatially disjoint split (files cell_disjoint_*); CELLS="salinasA 2;enmap_potsdam 5"
# picks the cells (default: both datasets at N = 2 and 5). NAME=x writes cell_x_* (e.g. a run of other METHODS).
# EXTRA="--pseudo-labeller blend" passes further options to every run.
cd "$(dirname "$0")/.."
export HYPERSYNTH_DATA_DIR="${HYPERSYNTH_DATA_DIR:-../shared/data}"
METHODS="${METHODS:-rf,svm,cnn,cnn-pseudo,augment}"
SPLIT="${SPLIT:-random}"
CELLS="${CELLS:-enmap_potsdam 2;enmap_potsdam 5;salinasA 2;salinasA 5}"
prefix=docs/bench/cell_${NAME:+${NAME}_}
[ "$SPLIT" = random ] || prefix=${prefix}${SPLIT}_
cell() {  # dataset N seed
  out=${prefix}$1_N$2_s$3
  [ -f $out.done ] && return
  bin/hypersynth bench --datasets $1 --labels-per-class $2 --seeds $3 --methods $METHODS \
    --splits $SPLIT --preset fast $EXTRA --quiet --overwrite --json $out.json > $out.log 2>&1 && touch $out.done
}
for s in 0 1 2 3 4; do
  echo "$CELLS" | tr ';' '\n' | while read -r c; do [ -n "$c" ] && cell $c $s; done
done
