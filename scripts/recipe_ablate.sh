#!/bin/bash
# Recipe ablations on spoken-digit Whole (docs/speech.md): NAME then train options, one per line
# in runs/recipe/plan.txt (or $PLAN; docs/results/recipe/plan.txt is the one run); each:
# train, export, deploy on the emulator (all 1,000 test samples); a killed run resumes.
cd "$(dirname "$0")/.."
S=.venv/bin/spiketime
D=runs/speech_ref/data/whole.h5
while read -r name opts; do
  [ -z "$name" ] && continue
  R=runs/recipe/$name
  [ -f $R/deploy.json ] && continue
  date -u +"$name start %T"
  $S train --data $D --out $R --recipe base --hidden 128,128 --batch-size 32 --temperature 1 --threads 2 $opts \
      $( [ -f $R/last.pt ] && echo --resume ) 2>&1 | tr '\r' '\n' | grep -v "it/s\]$" | tail -5
  $S export $R/best.pt --out $R/model.net >/dev/null
  $S deploy $R/model.net --data $D --backend emulator --json > $R/deploy.json
  date -u +"$name done %T"
  python3 -c "import json;d=json.load(open('$R/deploy.json'));print('$name deployed',d['accuracy'])"
done < ${PLAN:-runs/recipe/plan.txt}
