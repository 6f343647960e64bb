#!/usr/bin/env bash
# The paper's protocol on the 17 games, resumable: run it again after a kill and it continues
# (`snnjax benchmark --protocol paper`; results/paper_protocol/<game>.json, RESULTS.md and
# BENCHMARKS.md rewritten after every game), then the paper's Figure 1 on its four games (each process
# plays those in its own list once its tables are done). Two processes over disjoint games: one process uses
# about 1.2 of this machine's 2 cores (its env steps and small per-step kernels leave the rest idle).
# usage: evaluate/paper_protocol.sh [LOG_DIR]     (logs: LOG_DIR/paper_protocol_{a,b}.log, default runs/)
set -euo pipefail
cd "$(dirname "$0")/.."
logs="${1:-runs}"
mkdir -p "$logs"
A=Kangaroo-v5,SpaceInvaders-v5,StarGunner-v5,Breakout-v5,Jamesbond-v5,RoadRunner-v5,Gopher-v5,Krull-v5,Atlantis-v5
B=BeamRider-v5,Boxing-v5,VideoPinball-v5,Pong-v5,Tutankham-v5,NameThisGame-v5,CrazyClimber-v5,Tennis-v5
snnjax benchmark --protocol paper --games "$A" --figure1 --no-progress >> "$logs/paper_protocol_a.log" 2>&1 &
snnjax benchmark --protocol paper --games "$B" --figure1 --no-progress >> "$logs/paper_protocol_b.log" 2>&1 &
wait
snnjax report
