#!/bin/sh
# What a deploy command sees, reported from inside one (issue 9): only
# descriptors 0-2 (stdin /dev/null, stdout and stderr one pipe), even when
# the daemon was started with others open; exactly the environment
# rollbackd(8) documents (DEPLOY COMMANDS), none of the daemon's; a session
# and process group of its own.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

REPORT=$T/report.json
# The deploy command: Python, which adds nothing to its environment and
# keeps no descriptor of its own open; fstat opens nothing.
cat > "$T/report.py" <<'PY'
import json, os, stat, sys
fds = {}
for fd in range(0, 65536):
    try:
        st = os.fstat(fd)
    except OSError:
        continue
    kind = "fifo" if stat.S_ISFIFO(st.st_mode) else "chr" if stat.S_ISCHR(st.st_mode) else "other"
    fds[fd] = {"kind": kind, "target": os.readlink("/proc/self/fd/%d" % fd)}
report = {"fds": fds, "env": dict(os.environ), "pid": os.getpid(),
          "sid": os.getsid(0), "pgid": os.getpgid(0), "argv": sys.argv[1:]}
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump(report, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
PY
# The interpreter itself, not a wrapper (pyenv shims add variables).
PY3=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')

PORT=$(free_port) || fail "no free port"
write_config
write_policy demo "$PORT"
# The deploy command is the reporter.
python3 - "$POLICIES/demo.yaml" "$PY3" "$T/report.py" "$REPORT" <<'PY'
import re, sys
path, py, script, report = sys.argv[1:]
text = open(path).read()
text = re.sub(r"deploy:\n  command:\n(    - .*\n)+",
    "deploy:\n  command: [%s, %s, %s, \"{version}\"]\n" % (py, script, report), text)
open(path, "w").write(text)
PY
grep -q report.py "$POLICIES/demo.yaml" || fail "policy not rewritten"

step "the daemon starts with an extra descriptor and variables of its own"
exec 7>"$T/leak-me"
export RBD_IT_SECRET=do-not-pass
start_daemon
exec 7>&-
unset RBD_IT_SECRET
seed_good v1

step "a bad release: the rollback runs the reporter"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_for "the deploy command's report" 15 test -s "$REPORT"
echo "report: $(cat "$REPORT")"

py_get() {
	json_get "$1" < "$REPORT"
}
step "descriptors: 0 /dev/null, 1 and 2 the same pipe, nothing else"
assert_eq '["0", "1", "2"]' "$(py_get 'sorted(d["fds"])')" "open descriptors"
assert_eq /dev/null "$(py_get 'd["fds"]["0"]["target"]')" "stdin"
assert_eq fifo "$(py_get 'd["fds"]["1"]["kind"]')" "stdout"
assert_eq "$(py_get 'd["fds"]["1"]["target"]')" "$(py_get 'd["fds"]["2"]["target"]')" \
    "stderr and stdout"

step "environment: exactly what rollbackd(8) documents"
assert_eq '["LANG", "PATH", "ROLLBACKD_FROM_VERSION", "ROLLBACKD_REASON", "ROLLBACKD_SERVICE", "ROLLBACKD_VERSION"]' \
    "$(py_get 'sorted(d["env"])')" "environment variables"
assert_eq "$PATH" "$(py_get 'd["env"]["PATH"]')" "PATH (the daemon's)"
assert_eq "${LANG:-C.UTF-8}" "$(py_get 'd["env"]["LANG"]')" "LANG"
assert_eq demo "$(py_get 'd["env"]["ROLLBACKD_SERVICE"]')" "ROLLBACKD_SERVICE"
assert_eq v1 "$(py_get 'd["env"]["ROLLBACKD_VERSION"]')" "ROLLBACKD_VERSION"
assert_eq v2-bad "$(py_get 'd["env"]["ROLLBACKD_FROM_VERSION"]')" "ROLLBACKD_FROM_VERSION"
assert_contains "$(py_get 'd["env"]["ROLLBACKD_REASON"]')" "rolling back from v2-bad to v1" \
    "ROLLBACKD_REASON"
assert_eq '["v1"]' "$(py_get 'd["argv"][1:]')" "arguments"

step "a session and process group of its own"
assert_eq "$(py_get 'd["pid"]')" "$(py_get 'd["sid"]')" "session id"
assert_eq "$(py_get 'd["pid"]')" "$(py_get 'd["pgid"]')" "process group id"
