#!/usr/bin/env bash
# Run every molecule scenario once: each role's own scenarios, then the project-level ones.
# MOLECULE_SCENARIOS="roles/nginx:default molecule:default" limits the run.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
scenarios=${MOLECULE_SCENARIOS:-}
if [ -z "$scenarios" ]; then
  for f in roles/*/molecule/*/molecule.yml molecule/*/molecule.yml; do
    [ -e "$f" ] || continue
    dir=${f%/molecule/*}; name=${f#*/molecule/}; name=${name#molecule/}; name=${name%/molecule.yml}
    [ "$dir" = "$f" ] && dir=.
    scenarios+=" ${dir}:${name}"
  done
fi
for s in $scenarios; do
  dir=${s%%:*}; name=${s##*:}
  [ "$dir" = molecule ] && dir=.
  start=$(date +%s)
  echo "--- molecule test -s $name in $dir"
  (cd "$top/$dir" && molecule test -s "$name")
  echo "--- molecule $dir:$name ok in $(( $(date +%s) - start ))s"
done
