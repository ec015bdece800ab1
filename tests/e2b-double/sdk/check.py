"""E2B's own Python SDK (e2b==2.63.0, sync client) against the corral E2B double.

The caller sets E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY (e2b-compat.md §2.2 mode B).
Prints one line per step and `python-sdk: ok` at the end; any mismatch raises.
"""

from e2b import Sandbox, SandboxQuery

tag = {"suite": "corral-sdk-check-py"}
sbx = Sandbox.create(timeout=120, metadata=tag, envs={"G": "global"})
print("create", sbx.sandbox_id.startswith("i"))

chunks: list[str] = []
r = sbx.commands.run("echo hi; echo $G; echo err >&2", on_stdout=chunks.append)
assert r.exit_code == 0, r
assert r.stdout == "hi\nglobal\n", repr(r.stdout)
assert r.stderr == "err\n", repr(r.stderr)
assert "".join(chunks) == "hi\nglobal\n", chunks
print("commands.run", r.exit_code, repr(r.stdout))

h = sbx.commands.run("read line; echo got:$line", background=True, stdin=True)
sbx.commands.send_stdin(h.pid, "abc\n")
r2 = h.wait()
assert r2.stdout == "got:abc\n", repr(r2.stdout)
print("stdin", repr(r2.stdout))

bad = None
try:
    sbx.commands.run("exit 3")
except Exception as e:  # CommandExitException
    bad = getattr(e, "exit_code", None)
assert bad == 3, bad
print("exit code", bad)

sbx.files.write("/tmp/corral-sdk-py.txt", "hello files")
assert sbx.files.read("/tmp/corral-sdk-py.txt") == "hello files"
print("files write/read ok")

again = Sandbox.connect(sbx.sandbox_id)
r3 = again.commands.run("cat /tmp/corral-sdk-py.txt")
assert r3.stdout == "hello files", repr(r3.stdout)
print("connect ok")

sbx.set_timeout(60)
print("set_timeout ok")

found = Sandbox.list(query=SandboxQuery(metadata=tag)).next_items()
assert [s.sandbox_id for s in found] == [sbx.sandbox_id], found
print("list ok", len(found))

assert sbx.kill() is True
assert Sandbox.list(query=SandboxQuery(metadata=tag)).next_items() == []
print("kill ok")
print("python-sdk: ok")
