#!/bin/sh
# `make tcav-synth`: the T-TCAV evaluation of the README, as docs/tcav-preregistration.md fixes
# it. The benchmark's test, concept, random and counterfactual images are drawn by attx synth
# (the same bytes as for the models' runs: they do not depend on --per-class), then the
# decision-level view of the interventions (each class's recall on its test images redrawn
# with each texture), then `attx tcav-check` on the three pre-registered less saturated models
# (the rule applies to them) and on the shipped model (reported beside them).
# usage: tools/tcav_synth.sh ATTX OUTDIR
set -e
attx=$1 out=$2
if [ ! -d "$out/bench/counterfactual" ] || [ ! -d "$out/bench/concepts/random_20" ]; then
    rm -rf "$out"
    mkdir -p "$out"
    "$attx" synth "$out/bench" --size 48 --per-class 1 --test-per-class 100 --concept-images 50 \
        --random-sets 21 --seed 1 --counterfactuals
    "$attx" synth "$out/dev" --size 48 --per-class 1 --test-per-class 100 --concept-images 1 \
        --random-sets 0 --seed 2
fi
models="data/synth-vit-ls-s1.safetensors data/synth-vit-ls-s2.safetensors data/synth-vit-ls-s3.safetensors"
echo "== the interventions at the decision level: recall of each class on its test images redrawn with each texture"
for model in $models data/synth-vit.safetensors; do
    echo "$model"
    printf '  %-10s' texture
    for class in dalmatian fish snail zebra; do printf ' %9s' "$class"; done
    echo
    for t in striped dotted zigzagged chequered; do
        printf '  %-10s' "$t"
        "$attx" eval "$model" "$out/bench/counterfactual/$t" --accuracy 2>/dev/null |
            awk '$1 ~ /^(dalmatian|fish|snail|zebra)$/ {printf " %9s", $3}'
        echo
    done
done
echo
"$attx" tcav-check "$out/bench" $models --dev "$out/dev/test"
echo
echo "== the shipped model (not under the rule: its logits are saturated)"
"$attx" tcav-check "$out/bench" data/synth-vit.safetensors --dev "$out/dev/test"
