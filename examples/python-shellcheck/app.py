"""shellcheck over each input script: one result per input, each report
stored and related to its script (the README tutorial, in Python)."""

import taskhost
from taskhost import CheckResult, Command, Environment, FailOn, NewArtifact, Severity, Tally


class ShellCheck(taskhost.Task):
    name = "shellcheck-py"
    summary = "Checks shell scripts with shellcheck"
    task_data_doc = "- `scripts`: the scripts to check\n- `fail_on_severity`: error, warning, ..., none"
    keys = {"scripts": True, "fail_on_severity": False}

    def execute(self, data):
        fail_on = FailOn(data.get("fail_on_severity", "none"))
        env = Environment.open("auto")
        results = Tally()
        for script in data["scripts"]:  # artifact ids: the host resolved them
            artifact = taskhost.get(script)
            files = taskhost.fetch(artifact.id, f"in/{artifact.id}")
            out = f"shellcheck-{artifact.id}.json"
            run = Command("shellcheck", "--format=json1").args(files).to(stdout=out)
            report = env.run(run).stdout_json()
            stored = NewArtifact("shellcheck:report").file("report.json", out).relates_to(artifact.id).create()
            outcome = fail_on.outcome(Severity.parse(c["level"]) for c in report["comments"])
            result = CheckResult.for_artifact(artifact, outcome).with_note(f"comments: {len(report['comments'])}")
            results.emit(result.with_artifact(f"artifact:{stored}"))
        return results.status()


Task = taskhost.export(ShellCheck)
