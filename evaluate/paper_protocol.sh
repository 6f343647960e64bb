#!/usr/bin/env bash
# The paper's protocol on the 17 games, then the paper's Figure 1, resumable: run it again after a
# kill and it continues (`snnjax benchmark --protocol paper`; results/paper_protocol/<game>.json;
# RESULTS.md and BENCHMARKS.md rewritten after every game; finished games and blocks are skipped,
# a block in flight is played again).
#
# WORKERS processes (default 2: on a 2-core CPU with int8 units one uses about 1.2 cores) share one
# queue of jobs: each takes the next job nobody holds, so they finish together however long each
# game is. On an AVX2-only CPU one play alone uses about 1.7 cores: StarGunner's block made 11.4
# agent decisions/s alone and 5.5-6.4 beside another, so there one worker (`... runs 1`) plays as
# much and finishes each job in about half the time. Every play is started with `--side-by-side
# WORKERS`: its pre-start estimate scales the stored paces (each play records how many shared the
# machine) to that many plays at a time, and its timing records it (a second copy's workers are
# not counted by the first copy's plays: start one copy with the count wanted).
# Jobs: every game's tables, longest first (the shipped DQN's mean episode length in
# models/<game>.json: Tennis plays up to 4,500 steps an episode, Kangaroo about 600), then Figure
# 1's four games, each once its tables are done. A job is held by a claim folder under LOG_DIR
# (an atomic mkdir, with the worker's PID); a claim whose worker is gone (killed, machine
# restarted) is taken over, so a second copy can take over after a kill.
# usage: [DEADLINE=HH:MM] evaluate/paper_protocol.sh [LOG_DIR] [WORKERS]   (default runs/ and 2;
#        logs: LOG_DIR/paper_protocol_<worker PID>.log). DEADLINE (`snnjax benchmark --deadline`):
#        no play is started that would not end by then (a block of Tennis takes about 2 h), so a
#        machine that is stopped on a clock loses no work in flight; a later start plays the rest.
#        evaluate/paper_protocol.sh status [LOG_DIR [N]]: the jobs running now (each worker's last log
#        line: a play reports its progress and ETA every 10 minutes) and what is left to play
#        (`snnjax benchmark --protocol paper --status`, for one process; `status LOG_DIR N`: for
#        each of N sharing the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! type -P snnjax >/dev/null; then
  echo "paper_protocol.sh: no snnjax command on PATH: activate the project's environment first" \
       "(. .venv/bin/activate; setup: README.md)" >&2
  exit 2
fi
if [ "${1:-}" = status ]; then
  logs="${2:-runs}"
  for d in "$logs"/paper_protocol_claims/*; do
    [ -e "$d/done" ] || [ -e "$d/ended" ] && continue  # finished, or deferred/failed while its worker goes on
    pid=$(cat "$d/pid" 2>/dev/null) || continue
    grep -qs paper_protocol "/proc/$pid/cmdline" || continue  # ended, or its worker is gone
    echo "running: ${d##*/}, worker $pid: $(grep -v '^worker' "$logs/paper_protocol_$pid.log" | tail -n 1)"
  done
  exec snnjax benchmark --protocol paper --status --side-by-side "${3:-1}"
fi
logs="${1:-runs}"
workers="${2:-2}"
claims="$logs/paper_protocol_claims"
opts=(--side-by-side "$workers")
[ -n "${DEADLINE:-}" ] && opts+=(--deadline "$DEADLINE")
mkdir -p "$claims"
GAMES="Tennis-v5 CrazyClimber-v5 NameThisGame-v5 Tutankham-v5 Pong-v5 VideoPinball-v5 BeamRider-v5 Boxing-v5
       Atlantis-v5 Krull-v5 Gopher-v5 RoadRunner-v5 Jamesbond-v5 Breakout-v5 StarGunner-v5 SpaceInvaders-v5 Kangaroo-v5"
FIGURE1="VideoPinball-v5 Jamesbond-v5 Breakout-v5 StarGunner-v5"

claim() {  # claim job $1 for this worker (PID $2); success = claimed
  local d="$claims/$1" pid
  if mkdir "$d" 2>/dev/null; then echo "$2" > "$d/pid"; return 0; fi
  [ -e "$d/done" ] && return 1
  pid=$(cat "$d/pid" 2>/dev/null) || return 1  # no PID yet: being claimed right now
  grep -qs paper_protocol "/proc/$pid/cmdline" && return 1  # its worker is alive
  mv "$d" "$d.stale.$2" 2>/dev/null || return 1  # stale: one taker wins the rename
  rm -rf "$d.stale.$2"
  mkdir "$d" 2>/dev/null || return 1
  echo "$2" > "$d/pid"
}

tables() {  # the claimed job tables:$1 of worker $2
  local job="tables:$1" log="$logs/paper_protocol_$2.log"
  echo "worker $2: $job ($(date -u +%FT%TZ))" >> "$log"
  local rc=0
  snnjax benchmark --protocol paper --games "$1" "${opts[@]}" --no-progress >> "$log" 2>&1 || rc=$?
  case $rc in
    0) touch "$claims/$job/done" ;;
    3) echo "worker $2: $job deferred by the deadline (a later start continues it)" >> "$log" ;;
    *) echo "worker $2: $job failed, exit status $rc (a later start retries it)" >> "$log" ;;
  esac
  touch "$claims/$job/ended"
}

worker() {
  local me=$BASHPID game
  local log="$logs/paper_protocol_$me.log"
  for game in $GAMES; do
    claim "tables:$game" "$me" && tables "$game" "$me"
  done
  for game in $FIGURE1; do
    claim "figure1:$game" "$me" || continue
    # Figure 1 needs the game's validation: wait until its tables job has ended (or take it over)
    until [ -e "$claims/tables:$game/ended" ]; do
      if claim "tables:$game" "$me"; then tables "$game" "$me"; else sleep 30; fi
    done
    echo "worker $me: figure1:$game ($(date -u +%FT%TZ))" >> "$log"
    if snnjax benchmark --protocol paper --games "$game" --figure1 only "${opts[@]}" --no-progress >> "$log" 2>&1; then
      touch "$claims/figure1:$game/done"
    fi
    touch "$claims/figure1:$game/ended"
  done
}

for w in $(seq 1 "$workers"); do
  worker &
  sleep 5  # staggered starts: claims in queue order
done
wait
snnjax report
