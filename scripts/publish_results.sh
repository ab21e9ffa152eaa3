#!/usr/bin/env bash
# Copy an experiment folder's results into docs/: results.json/.md, the figures, every
# finished cell's cell.json and the dataset audits. Models and datasets stay behind
# (regenerated from their seeds); the cell.json files let `spiketime experiment
# --out DST` skip finished cells on a fresh checkout.
#   scripts/publish_results.sh runs/experiment-full docs/results/full
set -euo pipefail
src=$1 dst=$2
mkdir -p "$dst"
cd "$src"
find . \( -name cell.json -o -name '*.audit.json' -o -name 'results.json' \
       -o -name 'results.md' -o \( -name '*.png' -path './*.png' ! -path './*/*' \) \) -print0 |
  while IFS= read -r -d '' f; do mkdir -p "$OLDPWD/$dst/$(dirname "$f")"; cp "$f" "$OLDPWD/$dst/$f"; done
