#!/usr/bin/env bash
# make.sh BINARY OUT: writes with BINARY (a velocity built from the commit
# whose journal format is to be kept readable) a data directory into OUT,
# then keeps of it only what golden_journal_test.go reads: the journal, the
# attempts' logs and the blobs of the releases. See README.md.
set -euo pipefail
bin=$(realpath "$1")
out=$2
[ ! -e "$out/velocity.db" ] || { echo "make.sh: $out holds a journal already" >&2; exit 2; }
mkdir -p "$out"
out=$(realpath "$out")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
home=$work/home
export VELOCITY_HOME=$home CI=true
v() { "$bin" "$@"; }

# A project with a build stage and a python service deployed to staging
# and, after approval, to production.
proj=$work/golden
mkdir -p "$proj"
cat > "$proj/app.py" <<'PY'
import http.server, os
here = os.path.dirname(os.path.abspath(__file__))
version = open(os.path.join(here, "version.txt")).read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(("release " + version + "\n").encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
PY
cat > "$proj/velocity.yml" <<'YML'
name: golden
stages:
  - name: build
    actions:
      - name: package
        run: mkdir -p out && cp app.py version.txt out/ && echo "packaged $(cat version.txt)"
        inputs: [app.py, version.txt]
        outputs: [out]
      - name: test
        needs: [package]
        inputs: [version.txt]
        run: |
          if grep -q broken version.txt; then echo "version.txt is broken" >&2; exit 3; fi
          echo "tests pass"
  - name: staging
    actions:
      - { name: deploy, deploy: api, environment: staging }
  - name: production
    approval: manual
    actions:
      - { name: deploy, deploy: api, environment: production }
services:
  api:
    from: package
    run: exec python3 out/app.py
    replicas: 1
    env: { GREETING: hello }
    health: { http: /, interval: 200ms, timeout: 1s }
    strategy: { type: blue-green, keep_warm: 1m }
    drain: 1s
    deadline: 20s
environments:
  staging: {}
  production: { hosts: ["api.example.localhost"] }
YML

# Deploys are journaled by the server that hosts them: runs deploy
# through a velocity serve on this data directory.
mkdir -p "$home"
v serve --proxy-addr 127.0.0.1:0 > "$work/serve.log" 2>&1 &
serve=$!
for _ in $(seq 200); do grep -q 'serving; proxy at' "$work/serve.log" && break; sleep 0.1; done
grep -q 'serving; proxy at' "$work/serve.log" || { cat "$work/serve.log" >&2; exit 1; }

cd "$proj"
ports=(--port-range 42100-42199)
echo one > version.txt
v run --approve "${ports[@]}"             # run 1: succeeded, r1 live in both
echo two > version.txt
v run --approve "${ports[@]}"             # run 2: succeeded, r2 live in both
v run --only build "${ports[@]}"          # run 3: partial, cached
echo broken > version.txt
v run --approve "${ports[@]}" && exit 1   # run 4: failed in test
echo two > version.txt
v rollback staging api                    # staging: r1 live again (a rollback)

kill -TERM "$serve"
wait "$serve" || true

# Workflow executions: one that succeeds through a Map, a Choice and a
# command task; one that fails; a parent that starts a child.
wf=$work/wf
mkdir -p "$wf"
cat > "$wf/shapes.asl.json" <<'JSON'
{"StartAt": "Each", "States": {
  "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.sizes", "Next": "Big?",
    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Size", "States": {
      "Size": {"Type": "Pass", "Parameters": {"n.$": "States.StringToJson(States.Format('{}', $.n))"}, "End": true}}}},
  "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.sizes[0].n", "NumericGreaterThan": 1, "Next": "Echo"}], "Default": "Echo"},
  "Echo": {"Type": "Task", "Resource": "arn:velocity:command", "Parameters": {"Command": "cat"}, "ResultPath": "$.echoed", "End": true}}}
JSON
cat > "$wf/broken.asl.json" <<'JSON'
{"StartAt": "Fail", "States": {"Fail": {"Type": "Fail", "Error": "Golden.Broken", "Cause": "it fails on purpose"}}}
JSON
cat > "$wf/child.asl.json" <<'JSON'
{"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "Parameters": {"hello.$": "$.who"}, "End": true}}}
JSON
cat > "$wf/parent.asl.json" <<'JSON'
{"StartAt": "Start", "States": {"Start": {"Type": "Task",
  "Resource": "arn:aws:states:::states:startExecution.sync:2",
  "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child", "Input": {"who": "golden"}},
  "OutputPath": "$.Output", "End": true}}}
JSON
cd "$wf"
v workflow run shapes.asl.json --name shapes-1 --input '{"items": [{"n": 1}, {"n": 2}]}'
v workflow run broken.asl.json --name broken-1 && exit 1
v workflow run parent.asl.json --name parent-1

# Keep only what the test reads; the journal's WAL goes into velocity.db.
sqlite3 "$home/velocity.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
cp "$home/velocity.db" "$out/velocity.db"
cp -r "$home/logs" "$out/logs"
rm -f "$out/logs/workflow-resume.log"
# The blobs the deployments name: the release files.
sqlite3 "$home/velocity.db" "SELECT DISTINCT j.value ->> '\$.Digest' FROM deployments, json_each(files) AS j WHERE j.value ->> '\$.Digest' != ''" |
	while read -r d; do
		hex=${d#sha256:}
		rel=blobs/sha256/${hex:0:2}/$hex
		[ -f "$home/$rel" ] || rel=$(cd "$home" && find blobs -type f -name "$hex*" | head -1)
		mkdir -p "$out/$(dirname "$rel")"
		cp "$home/$rel" "$out/$rel"
	done
# The absolute paths of this machine (data directory, project, workflow
# directory) become placeholders the test replaces with its own.
sqlite3 "$out/velocity.db" <<SQL
UPDATE runs SET dir = replace(dir, '$proj', '@PROJECT@'), lock = replace(lock, '$home', '@HOME@'), workspace = replace(workspace, '$home', '@HOME@');
UPDATE attempts SET log = replace(log, '$home', '@HOME@');
UPDATE workflow_executions SET lock = replace(lock, '$home', '@HOME@'), options = CAST(replace(CAST(options AS TEXT), '$wf', '@WORKFLOWS@') AS BLOB);
VACUUM;
SQL
echo "make.sh: golden data directory in $out"
