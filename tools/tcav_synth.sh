#!/bin/sh
# `make tcav-synth`: the T-TCAV tables of the README. First the ground truth, by intervention:
# the test images redrawn with each texture in place of their own (attx synth
# --counterfactuals) and the model's recall of each class on them. Then the shipped synthetic
# ViT (data/synth-vit.safetensors) against the four texture concepts, for each of its classes,
# with P1's relative CAVs (each texture against the other three; 50 CAVs, one-sample t-test
# against 0.5). The ground truth asks for striped (+) for zebra and (-) for dalmatian, and
# nothing significant for fish and snail, whose texture does not matter. Set RANDOM_SETS=1
# for classic TCAV (CAVs against the ten random sets, tested against the random-vs-random
# baseline), NULL_CAVS=1 to test the relative scores against null CAVs (random halves of the
# pooled concepts) instead of 0.5, CENTRED=1 for the gradient of the centred logit (attx tcav
# --centred). The images are drawn by attx synth first (the same bytes as for the model's run:
# the test and concept images do not depend on --per-class).
# usage: tools/tcav_synth.sh ATTX MODEL OUTDIR [LAYERS]
set -e
attx=$1 model=$2 out=$3 layers=${4:-0-2}
if [ ! -d "$out/counterfactual" ]; then
    rm -rf "$out"
    "$attx" synth "$out" --size 48 --per-class 1 --test-per-class 100 --concept-images 50 --random-sets 10 \
        --seed 1 --counterfactuals
fi
echo "== ground truth: recall of each class on its test images redrawn with each texture"
printf '%-10s' texture
for class in dalmatian fish snail zebra; do printf ' %9s' "$class"; done
echo
for t in striped dotted zigzagged chequered; do
    printf '%-10s' "$t"
    "$attx" eval "$model" "$out/counterfactual/$t" --accuracy 2>/dev/null |
        awk '$1 ~ /^(dalmatian|fish|snail|zebra)$/ {printf " %9s", $3}'
    echo
done
c=$out/concepts
randoms=
[ -z "$RANDOM_SETS" ] || randoms="--random $(ls -d "$c"/random_* | tr '\n' ' ')"
[ -z "$NULL_CAVS" ] || randoms="--null"
[ -z "$CENTRED" ] || randoms="$randoms --centred"
for class in zebra dalmatian fish snail; do
    echo
    echo "== attx tcav MODEL --target $class --concept striped dotted zigzagged chequered --targets test/$class --layers $layers"
    "$attx" tcav "$model" --target "$class" --concept "$c/striped" "$c/dotted" "$c/zigzagged" "$c/chequered" \
        $randoms --targets "$out/test/$class" --layers "$layers" --html "$out/tcav-$class.html"
done
echo
echo "(reports: $out/tcav-CLASS.html)"
