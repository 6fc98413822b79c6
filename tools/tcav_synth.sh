#!/bin/sh
# `make tcav-synth`: the T-TCAV significance table of the README. The shipped synthetic ViT
# (data/synth-vit.safetensors) against the four texture concepts, for each of its classes:
# striped should be significant (+) for zebra, dotted (+) for dalmatian; fish and snail
# (whose texture is irrelevant) are the control. Redraws the test and concept images with
# attx synth first (the same bytes as for the model's run: they do not depend on --per-class).
# usage: tools/tcav_synth.sh ATTX MODEL OUTDIR [LAYERS]
set -e
attx=$1 model=$2 out=$3 layers=${4:-0-2}
if [ ! -d "$out/concepts" ]; then
    "$attx" synth "$out" --size 48 --per-class 1 --test-per-class 100 --concept-images 50 --random-sets 10 --seed 1
fi
c=$out/concepts
for class in zebra dalmatian fish snail; do
    echo
    echo "== attx tcav MODEL --target $class --concept striped dotted zigzagged chequered --targets test/$class --layers $layers"
    "$attx" tcav "$model" --target "$class" --concept "$c/striped" "$c/dotted" "$c/zigzagged" "$c/chequered" \
        --targets "$out/test/$class" --layers "$layers" --cavs 50 --html "$out/tcav-$class.html"
done
echo
echo "(reports: $out/tcav-CLASS.html)"
