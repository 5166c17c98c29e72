#!/usr/bin/env bash
# Build the project's image with podman on a machine with no Docker engine and no Docker Hub, run it,
# print its size and start-up time. Not part of `make test` or .ci/run (~8 min on 2 cores the first time).
#
#   bash bench/image.sh              # as root (apt-get, containers.conf, podman's root storage)
#   REF=HEAD bash bench/image.sh     # build a clean export of a commit instead of the work tree
#   SKIP_BUILD=1 RUNS=5 bash bench/image.sh   # measure the built image again
#   EXTRAS=milvus IMAGE=localhost/newsbot:milvus bash bench/image.sh   # with pymilvus + Milvus Lite
#   BASE_IMAGE=python:3.11-slim bash bench/image.sh                   # on a machine with a registry
#
# What it does (the measured recipe of ../shared/research/containers.md):
#  1. installs podman, debootstrap and runc with apt-get when missing;
#  2. writes the two containers.conf settings this sandbox needs (ulimits root may not raise; runc,
#     as crun refuses the hybrid cgroup layout) to /etc/containers/containers.conf.d/;
#  3. makes the base image: a debootstrapped Debian bookworm with python3 + venv + CA certificates,
#     imported as $BASE_IMAGE (skipped when that image exists; any python:3.11-slim-like base works);
#  4. builds ./Dockerfile with the build-time plumbing of this machine passed from here, never written
#     into the Dockerfile: the host's CA bundle (HTTPS to the package index goes through a proxy whose CA
#     a fresh container lacks) and the host's local wheel folder (torch 2.13.0+cpu; the PyTorch CPU index
#     the Dockerfile names by default is not reachable here), as read-only mounts + PIP_* build args;
#  5. runs `python -m index stats` and the terminal chat inside the image with no network, and prints
#     the image size and the start-up time (podman run -> the first answer line on stdout).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/newsbot:latest}
BASE_IMAGE=${BASE_IMAGE:-localhost/newsbot-base:bookworm-py3.11}
SUITE=${SUITE:-bookworm}
QUESTION=${QUESTION:-社区防控要突出什么}
say() { printf '\n== %s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

[ "$(id -u)" = 0 ] || { echo "bench/image.sh: run as root (apt-get, containers.conf, podman root storage)" >&2; exit 2; }

# 1. tools
missing=()
for tool in podman debootstrap runc; do command -v "$tool" > /dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap runc > /dev/null
fi
podman --version

# 2. containers.conf (a drop-in: nothing else of the machine's configuration is touched)
mkdir -p /etc/containers/containers.conf.d
cat > /etc/containers/containers.conf.d/50-newsbot-sandbox.conf <<'EOF'
# Written by newsbot's bench/image.sh for sandboxed machines:
# root cannot raise its hard limits here ("crun: setrlimit RLIMIT_NOFILE: Operation not permitted"),
# and crun refuses the hybrid cgroup layout ("cgroups in hybrid mode not supported").
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]

[engine]
runtime = "runc"
EOF

# 3. the base image
if podman image exists "$BASE_IMAGE"; then
  say "base $BASE_IMAGE exists: kept"
elif [[ "$BASE_IMAGE" != localhost/* ]]; then
  say "pulling $BASE_IMAGE"
  podman pull "$BASE_IMAGE"
else
  # The Debian mirror apt already uses (deb822 or one-line sources), else the default one.
  mirror=$(grep -rhoE '^(URIs:[[:space:]]*|deb[[:space:]]+)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
             /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^[:space:]]+' | head -1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d /var/tmp/newsbot-base.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  say "debootstrap $SUITE from $mirror (python3, venv, CA certificates) -> $BASE_IMAGE"
  t=$(now)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$root" "$mirror" \
    > /var/tmp/newsbot-debootstrap.log 2>&1 || { tail -20 /var/tmp/newsbot-debootstrap.log >&2; exit 1; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
  tar --numeric-owner -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" > /dev/null
  rm -rf "$root"; trap - EXIT
  echo "base made in $(secs "$t" "$(now)") s"
fi

# 4. the build (SKIP_BUILD=1 with an existing image: only run and measure it again)
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
wheels=${PIP_FIND_LINKS:-$(pip3 config get global.find-links 2>/dev/null || true)}
wheels=${wheels%% *}
args=(--format docker -t "$IMAGE" --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "EXTRAS=${EXTRAS:-}")
# The build context: the work tree as it is, or with REF=HEAD (any git ref) a clean export of that commit,
# so the figures do not depend on uncommitted files.
context=.
if [ -n "${REF:-}" ]; then
  context=$(mktemp -d /var/tmp/newsbot-context.XXXXXX)
  git archive "$REF" | tar -x -C "$context"
  echo "context: $REF = $(git rev-parse --short "$REF")" >&2
fi
args+=(-f "$context/Dockerfile")
if [ -f "$ca" ]; then
  args+=(-v "$ca:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
fi
if [ -n "$wheels" ] && [ -d "$wheels" ]; then
  # torch 2.13.0+cpu from the host's folder; PyPI for the rest (torch==2.13.0 takes the +cpu wheel).
  args+=(-v "$wheels:/run/host-wheels:ro" --build-arg PIP_FIND_LINKS=/run/host-wheels
         --build-arg TORCH_INDEX_URL=https://pypi.org/simple)
fi
build_s="skipped (SKIP_BUILD=1)"
if [ "${SKIP_BUILD:-0}" = 1 ] && podman image exists "$IMAGE"; then
  [ "$context" = . ] || rm -rf "$context"
else
say "podman build ${args[*]} $context"
t=$(now)
set +e
podman build "${args[@]}" "$context" 2>&1 | tee /var/tmp/newsbot-image-build.log | grep --line-buffered -E '^(STEP|COMMIT|Successfully|Error|error)'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || { echo "build failed (log: /var/tmp/newsbot-image-build.log):" >&2; tail -30 /var/tmp/newsbot-image-build.log >&2; exit 1; }
build_s="$(secs "$t" "$(now)") s"
[ "$context" = . ] || rm -rf "$context"
fi

# 5. run it: no network, so the model and the index can only come from the image. --no-healthcheck:
# podman would schedule the image's HEALTHCHECK through systemd, which these machines lack; the check
# itself is run below with `podman healthcheck run`.
run=(podman run --rm --network none --no-healthcheck)
say "python -m index stats (inside the image)"
"${run[@]}" "$IMAGE" python -m index stats

say "the image's HEALTHCHECK (podman healthcheck run)"
podman rm -f newsbot-image-health > /dev/null 2>&1 || true
podman run -d --name newsbot-image-health --network none "$IMAGE" sleep 300 > /dev/null 2>&1
podman inspect --format '{{.Config.Healthcheck.Test}}' newsbot-image-health 2>/dev/null || true
if podman healthcheck run newsbot-image-health > /dev/null 2>&1; then health=healthy; else health="unhealthy (exit $?)"; fi
podman rm -f -t 0 newsbot-image-health > /dev/null 2>&1 || true
echo "$health"

say "terminal chat: printf '$QUESTION\\n' | podman run -i --rm IMAGE python -m bot"
t=$(now)
"${run[@]}" "$IMAGE" true
overhead_s=$(secs "$t" "$(now)")
# Start-up: from `podman run` to the first line of the answer (the line after the echoed question),
# RUNS times; the first run's reply is printed, the figures are medians.
out=$(mktemp)
python3 - "$out" "$IMAGE" "$QUESTION" "${RUNS:-3}" <<'EOF'
import math, statistics, subprocess, sys, time
out, image, question, runs = sys.argv[1:]
firsts, totals, codes = [], [], []
for i in range(int(runs)):
    t0 = time.monotonic()
    p = subprocess.Popen(["podman", "run", "-i", "--rm", "--network", "none", "--no-healthcheck", image,
                          "python", "-m", "bot"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    p.stdin.write(question + "\n")
    p.stdin.close()
    first, lines = math.nan, []
    for line in p.stdout:
        lines.append(line)
        if math.isnan(first) and line.strip() and not line.startswith(">"):
            first = time.monotonic() - t0
    p.wait()
    totals.append(time.monotonic() - t0)
    firsts.append(first)
    codes.append(p.returncode)
    if i == 0:
        sys.stdout.write("".join(lines))
    print(f"run {i + 1}: first answer line {first:.1f} s, exit after {totals[-1]:.1f} s (code {p.returncode})",
          file=sys.stderr)
with open(out, "w") as f:
    f.write(f"{statistics.median(firsts):.1f} {min(firsts):.1f}-{max(firsts):.1f} {statistics.median(totals):.1f} "
            f"{max(codes, key=abs)} {len(firsts)}\n")
EOF
read -r first_s first_range total_s chat_rc runs < "$out"
rm -f "$out"
# CPU seconds the chat process uses (user + sys) from start to exit: what the wall time is made of on a
# loaded machine, less sensitive to the load than the wall time.
cpu=$("${run[@]}" -i "$IMAGE" bash -c 'TIMEFORMAT="%U %S %R"; { time python -m bot > /dev/null 2>&1; } 2>&1' \
        < <(printf '%s\n' "$QUESTION") | tail -1 | awk '{printf "%.1f s CPU (user %.1f + sys %.1f) in %.1f s wall", $1 + $2, $1, $2, $3}')

milvus_check=""
if [[ ",${EXTRAS:-}," == *,milvus,* ]]; then
  # The same image answering from Milvus Lite (in the process, var/milvus.db): the image's config with
  # backend = "milvus", mounted beside it so its relative paths still resolve under /app.
  say "Milvus Lite inside the image: index milvus-sync, index stats, the chat"
  cfg=$(mktemp /var/tmp/newsbot-config-milvus.XXXXXX)
  podman run --rm --network none --no-healthcheck "$IMAGE" cat config.toml \
    | sed '/^\[index\]$/a backend = "milvus"\nmilvus_uri = "var/milvus.db"' > "$cfg"
  chmod 644 "$cfg"
  if podman run --rm -i --network none --no-healthcheck -v "$cfg:/app/config.milvus.toml:ro" "$IMAGE" sh -c '
       python -m index --config config.milvus.toml milvus-sync > /dev/null &&
       python -m index --config config.milvus.toml stats | grep -E "\"(passages|vectors|vector_index)\"" &&
       python -m bot --config config.milvus.toml 2> /dev/null' < <(printf '%s\n' "$QUESTION"); then
    milvus_check=ok
  else
    milvus_check="failed (exit $?)"
  fi
  rm -f "$cfg"
fi

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
mb() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6:,.0f} MB')" "$1"; }
say "figures (load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
printf '%-46s %s\n' \
  "image" "$IMAGE (from $BASE_IMAGE)" \
  "image size" "$(mb "$size") (base $(mb "$base_size"))" \
  "build (this run; cached layers are reused)" "$build_s" \
  "podman run of \`true\` (container overhead)" "$overhead_s s" \
  "start-up: podman run -> first answer line" "$first_s s, median of $runs ($first_range)" \
  "chat: podman run -> exit after one answer" "$total_s s median (exit $chat_rc)" \
  "chat process inside the container" "$cpu" \
  "HEALTHCHECK (python -m index stats)" "$health"
[ -z "$milvus_check" ] || printf '%-46s %s\n' "Milvus Lite backend in the image" "$milvus_check"
[ "$chat_rc" = 0 ] && [ "$first_s" != nan ] && [ "$health" = healthy ] && [ "${milvus_check:-ok}" = ok ]
