#!/bin/bash
# Recipe ablations on spoken-digit data (docs/speech.md): NAME then train options, one per
# line in runs/recipe/plan.txt (or $PLAN, whose finished lines are appended to
# runs/recipe/plan.txt, the record docs/results/recipe/plan.txt copies); each: train,
# export, deploy on the emulator (the whole test split); a killed run resumes. A line's
# `--data FILE` picks its data (default: Whole).
cd "$(dirname "$0")/.."
S=.venv/bin/spiketime
PLAN=${PLAN:-runs/recipe/plan.txt}
while read -r name opts; do
  [ -z "$name" ] && continue
  R=runs/recipe/$name
  D=$(grep -oP -- '--data \K\S+' <<< "$opts" || echo runs/speech_ref/data/whole.h5)
  if [ ! -f $R/deploy.json ]; then
    date -u +"$name start %T"
    $S train --data $D --out $R --recipe base --hidden 128,128 --batch-size 32 --temperature 1 \
        --threads 2 $opts $( [ -f $R/last.pt ] && echo --resume ) 2>&1 | tr '\r' '\n' \
        | grep -v "it/s\]$" | tail -5
    $S export $R/best.pt --out $R/model.net >/dev/null
    $S deploy $R/model.net --data $D --backend emulator --json > $R/deploy.json || rm -f $R/deploy.json
    date -u +"$name done %T"
    python3 -c "import json;d=json.load(open('$R/deploy.json'));print('$name deployed',d['accuracy'])"
  fi
  if [ "$PLAN" != runs/recipe/plan.txt ] && [ -f $R/deploy.json ] \
      && ! grep -q "^$name " runs/recipe/plan.txt 2>/dev/null; then
    echo "$name $opts" >> runs/recipe/plan.txt
  fi
done < "$PLAN"
