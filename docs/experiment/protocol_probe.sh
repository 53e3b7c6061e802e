#!/bin/bash
# Protocol probe, fixed before any strategy is compared: how many optimiser steps until a model
# trained from scratch stops improving, at 10 and 60 labels (random frames, one repeat, seed 100: not a seed of the experiment).
A=alges
for n in 10 60; do for s in 100 200 400; do
  $A simulate --data tree --strategy random --init $n --query-size 10 --rounds 0 --repeats 1 --epochs 1 \
    --min-steps $s --batch-size 8 --lr 1e-3 --input-size 64 96 --test-size 0.2 --dice-weight 1 --no-full-pool \
    --seed 100 --threads 2 --quiet --out probe/n${n}_s${s} >/dev/null 2>&1
  echo "n=$n steps=$s $(tail -1 probe/n${n}_s${s}/results.csv | cut -d, -f5,16)"
done; done
