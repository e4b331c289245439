"""Beside the recipe: one whole-process invocation of the recipe-style Python hook
(`benches/recipe_hook.py`, boto3) next to one of `greenlight-hook` (the hook-only binary the
template deploys to the hook function) and, for reference, of `greenlight hook` (the same hook in
the whole binary), all against the same moto,
and the time from a click's decision write to the hook's answer.

Run by `scripts/bench` with the bench venv's Python (which has boto3); needs
`GREENLIGHT_TEST_MOTO_URL` (moto), `GREENLIGHT_BENCH_BINARY` (the release `greenlight`) and
`GREENLIGHT_BENCH_HOOK_BINARY` (the release `greenlight-hook`).
`GREENLIGHT_BENCH_RECIPE_RUNS` (default 30, at least 20) sets the timed runs per figure and
`GREENLIGHT_BENCH_DECISION_RUNS` (default 20, at least 20) the click-to-answer runs.

What one invocation is, on each side (both are a poll, the kind ECS makes again and again while a
gate waits):
- recipe: `python -c` a runner that imports `recipe_hook` (boto3, the SSM and SNS clients: Lambda's
  init) and calls `lambda_handler` once with an ECS lifecycle-hook payload whose `hookDetails` say
  the notification went out, then prints the answer;
- greenlight: `greenlight-hook --event payload.json` (and `greenlight hook --event …`) with
  `GREENLIGHT_POLL_WINDOW=0`, with the
  `hookDetails` its own first invocation answered (so it reads the decision once and answers),
  building its SSM, SNS and ECS clients at start-up as in Lambda.
Two cases each: the parameter is absent (one read, `IN_PROGRESS`), and it holds `approved` (read,
delete, `SUCCEEDED`). The runs alternate between the two sides.

Each process is started under `/usr/bin/time -f %M`, whose figure is the peak resident set size of
that one process: `/usr/bin/time` is a small program that forks and execs, and a child's
`ru_maxrss` starts at the size of the process that spawned it, so a larger parent (this Python
driver) would inflate it. Wall time is taken here around the whole spawn and wait, so it includes
`/usr/bin/time`'s own fork and exec (about a millisecond) on both sides.

Click to answer, greenlight: `greenlight-hook --event` with the production polling settings (840 s
window, 2 s interval) is started; after a random wait (0.3 to 4.3 s, so clicks fall anywhere in the
polling cycle) the decision is written as a click writes it (a create-only `PutParameter` of
`approved`) and the time is taken from just before that write to the hook's answer line on its
standard output. Recipe: not timed for real (ECS would re-invoke it after 30 s); computed from the
model, callBackDelay 30 s plus one invocation, with the invocation measured above.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "us-east-1"
ACCOUNT = "123456789012"
NOWHERE = "http://127.0.0.1:9"

RUNNER = (
    "import json, sys, time\n"
    "started = time.perf_counter()\n"
    "import recipe_hook\n"
    "imported = time.perf_counter()\n"
    "answer = recipe_hook.lambda_handler(json.load(open(sys.argv[1])), None)\n"
    "done = time.perf_counter()\n"
    "print(json.dumps({'answer': answer, 'init_s': imported - started, 'handler_s': done - imported}))\n"
)


def count(name, default, minimum):
    value = int(os.environ.get(name, default))
    if value < minimum:
        sys.exit(f"{name}={value}: the figures need at least {minimum} runs")
    return value


def percentile(sample, percent):
    """Nearest rank, as benches/common does."""
    ordered = sorted(sample)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


class Bench:
    def __init__(self):
        self.moto = os.environ["GREENLIGHT_TEST_MOTO_URL"]
        self.whole_binary = os.environ["GREENLIGHT_BENCH_BINARY"]
        self.binary = os.environ["GREENLIGHT_BENCH_HOOK_BINARY"]
        self.runs = count("GREENLIGHT_BENCH_RECIPE_RUNS", 30, 20)
        self.decision_runs = count("GREENLIGHT_BENCH_DECISION_RUNS", 20, 20)
        self.tmp = tempfile.TemporaryDirectory(prefix="beside-recipe-")
        self.home = os.path.join(self.tmp.name, "home")
        os.mkdir(self.home)
        aws = dict(
            AWS_ENDPOINT_URL=self.moto,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_EC2_METADATA_DISABLED="true",
        )
        self.ssm = boto3.client("ssm", endpoint_url=self.moto, region_name=REGION,
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        sns = boto3.client("sns", endpoint_url=self.moto, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        tag = f"recipe-{os.getpid()}"
        topic = sns.create_topic(Name=tag)["TopicArn"]
        self.cluster = tag
        # Only what each process needs: no HOME with real credentials or config, no proxy.
        base = dict(PATH="/usr/bin:/bin", HOME=self.home, LANG="C.UTF-8", **aws)
        self.recipe_parameter = f"/{tag}/deployment-approval"
        self.recipe_env = dict(base, PYTHONPATH=HERE, SNS_TOPIC_ARN=topic,
                               DECISION_PARAMETER=self.recipe_parameter)
        self.greenlight_env = dict(base, AWS_ENDPOINT_URL_ECS=NOWHERE,
                                   GREENLIGHT_SNS_TOPIC_ARN=topic,
                                   GREENLIGHT_DECISION_PREFIX=f"/{tag}/decisions")

    def payload(self, hook_details=None):
        deployment = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{self.cluster}/web/dep1"
        payload = {
            "executionId": "a1b2c3d4-0000-4000-8000-000000000001",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "resourceArn": deployment,
            "executionDetails": {
                "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{self.cluster}/web",
                "targetServiceRevisionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{self.cluster}/web/2",
                "testTrafficWeights": {},
                "productionTrafficWeights": {},
            },
        }
        if hook_details is not None:
            payload["hookDetails"] = hook_details
        return payload

    def write(self, name, payload):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as file:
            json.dump(payload, file)
        return path

    def recipe_command(self, payload_path):
        return [sys.executable, "-c", RUNNER, payload_path]

    def greenlight_command(self, payload_path):
        return [self.binary, "--event", payload_path]

    def whole_command(self, payload_path):
        return [self.whole_binary, "hook", "--event", payload_path]

    def once(self, command, env):
        """One whole process: (wall seconds, peak RSS KiB, its standard output)."""
        rss_file = os.path.join(self.tmp.name, "rss")
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *command], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{command[0]} exited {done.returncode}: {done.stdout}")
        with open(rss_file) as file:
            rss = int(file.read().split()[-1])
        return wall, rss, done.stdout

    def answer_of(self, side, stdout):
        line = json.loads(stdout.strip().splitlines()[-1])
        return line["answer"] if side == "recipe" else line

    def breakdown(self):
        """Where each side's peak memory is: anonymous memory (heap, stacks) against pages of files
        mapped in (the executable, shared libraries, Python's modules), read from /proc while the
        process waits after its read of the (absent) decision: the recipe's runner then waits for
        its standard input to close, greenlight's hook polls (840 s window)."""
        rows = []
        holding_runner = RUNNER + "sys.stdout.flush()\nsys.stdin.read()\n"
        recipe = subprocess.Popen([sys.executable, "-c", holding_runner, self.recipe_poll],
                                  env=self.recipe_env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        recipe.stdout.readline()
        rows.append(("recipe-style Python 3 + boto3", self.memory_of(recipe.pid, sys.executable)))
        recipe.stdin.close()
        recipe.wait(timeout=10)
        hook = subprocess.Popen(self.greenlight_command(self.poll_path), env=self.greenlight_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        time.sleep(1.0)  # its first read is done within milliseconds; the next is 2 s later
        rows.append(("`greenlight-hook`", self.memory_of(hook.pid, self.binary)))
        hook.kill()
        hook.wait(timeout=10)
        whole = subprocess.Popen(self.whole_command(self.poll_path), env=self.greenlight_env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        time.sleep(1.0)
        rows.append(("`greenlight hook` (whole binary)", self.memory_of(whole.pid, self.whole_binary)))
        whole.kill()
        whole.wait(timeout=10)
        print()
        print("Where the peak is (one process each, read from /proc/PID/status and smaps after the "
              "read of an absent decision):")
        print()
        print("| process | VmHWM | anonymous (RssAnon) | file pages (RssFile) | of which its own executable |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, (hwm, anon, file, own) in rows:
            print(f"| {name} | {mib(hwm)} | {mib(anon)} | {mib(file)} | {mib(own)} |")

    @staticmethod
    def memory_of(pid, executable):
        with open(f"/proc/{pid}/status") as file:
            fields = dict(line.split(":", 1) for line in file if ":" in line)
        kib = lambda name: int(fields[name].split()[0])
        own, current = 0, ""
        real = os.path.realpath(executable)
        with open(f"/proc/{pid}/smaps") as file:
            for line in file:
                head = line.split()
                if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                    current = head[5] if len(head) > 5 else ""
                elif head[0] == "Rss:" and current and os.path.realpath(current) == real:
                    own += int(head[1])
        return kib("VmHWM"), kib("RssAnon"), kib("RssFile"), own

    def parameter(self, name):
        try:
            return self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def run(self):
        # First invocations, untimed: each side opens its gate and says what it remembers.
        _, _, out = self.once(self.greenlight_command(self.write("open.json", self.payload())),
                              dict(self.greenlight_env, GREENLIGHT_POLL_WINDOW="0"))
        opened = json.loads(out.strip().splitlines()[-1])
        assert opened["hookStatus"] == "IN_PROGRESS", opened
        greenlight_details = opened["hookDetails"]
        self.greenlight_parameter = greenlight_details["greenlight"]["parameterName"]
        _, _, out = self.once(self.recipe_command(self.write("open-recipe.json", self.payload())),
                              self.recipe_env)
        opened = self.answer_of("recipe", out)
        assert opened["hookStatus"] == "IN_PROGRESS", opened
        recipe_details = opened["hookDetails"]

        sides = {
            "recipe": (self.recipe_command(self.write("poll-recipe.json", self.payload(recipe_details))),
                       self.recipe_env, self.recipe_parameter),
            "greenlight": (self.greenlight_command(self.write("poll.json", self.payload(greenlight_details))),
                           dict(self.greenlight_env, GREENLIGHT_POLL_WINDOW="0"), self.greenlight_parameter),
            "whole": (self.whole_command(self.write("poll.json", self.payload(greenlight_details))),
                      dict(self.greenlight_env, GREENLIGHT_POLL_WINDOW="0"), self.greenlight_parameter),
        }
        self.poll_path = sides["greenlight"][0][-1]
        self.recipe_poll = sides["recipe"][0][-1]
        results = {}
        for case, expected in (("absent", "IN_PROGRESS"), ("approved", "SUCCEEDED")):
            for side in sides:
                results[(side, case)] = {"wall": [], "rss": [], "init": [], "handler": []}
            for round_ in range(2 + self.runs):
                for side, (command, env, parameter) in sides.items():
                    if case == "approved":
                        self.ssm.put_parameter(Name=parameter, Value="approved", Type="String",
                                               Overwrite=True)
                    wall, rss, out = self.once(command, env)
                    answer = self.answer_of(side, out)
                    assert answer["hookStatus"] == expected, (side, case, answer)
                    if case == "approved":
                        assert self.parameter(parameter) is None, f"{side} deleted the decision"
                    if round_ < 2:
                        continue
                    figures = results[(side, case)]
                    figures["wall"].append(wall)
                    figures["rss"].append(rss)
                    if side == "recipe":
                        line = json.loads(out.strip().splitlines()[-1])
                        figures["init"].append(line["init_s"])
                        figures["handler"].append(line["handler_s"])
        self.report(results)
        self.breakdown()
        self.click_to_answer(results)

    def report(self, results):
        print()
        print(f"### One whole-process hook invocation, recipe-style Python beside greenlight "
              f"({self.runs} timed runs per row after 2 untimed, alternating; moto at {self.moto})")
        print()
        print("| invocation | case | wall median | p90 | max | peak RSS median | max |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        names = {"recipe": "recipe-style Python 3 + boto3 (`python -c` runner)",
                 "greenlight": "`greenlight-hook --event` (release, the hook function's binary)",
                 "whole": "`greenlight hook --event` (release, the whole binary)"}
        for (side, case), figures in results.items():
            wall, rss = figures["wall"], figures["rss"]
            print(f"| {names[side]} | {case} | **{ms(statistics.median(wall))}** | "
                  f"{ms(percentile(wall, 90))} | {ms(max(wall))} | "
                  f"**{mib(statistics.median(rss))}** | {mib(max(rss))} |")
        print()
        for case in ("absent", "approved"):
            recipe, greenlight = results[("recipe", case)], results[("greenlight", case)]
            speed = statistics.median(recipe["wall"]) / statistics.median(greenlight["wall"])
            memory = statistics.median(recipe["rss"]) / statistics.median(greenlight["rss"])
            print(f"- {case}: greenlight's hook is **{speed:.1f}×** faster (median wall time) and "
                  f"**{memory:.1f}×** smaller (median peak RSS) than the recipe-style hook "
                  f"(targets: ≥ 30× and ≥ 4×: {'met' if speed >= 30 else 'missed'}, "
                  f"{'met' if memory >= 4 else 'missed'}).")
            whole = results[("whole", case)]
            print(f"  The same hook in the whole `greenlight` binary: "
                  f"{statistics.median(recipe['wall']) / statistics.median(whole['wall']):.1f}× and "
                  f"{statistics.median(recipe['rss']) / statistics.median(whole['rss']):.1f}×.")
            print(f"  Inside the recipe's process: import (boto3, two clients) median "
                  f"{ms(statistics.median(recipe['init']))}, the handler call median "
                  f"{ms(statistics.median(recipe['handler']))}.")

    def click_to_answer(self, results):
        delays = []
        for _ in range(self.decision_runs):
            hook = subprocess.Popen(self.greenlight_command(self.poll_path), env=self.greenlight_env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
            time.sleep(random.uniform(0.3, 4.3))
            assert hook.poll() is None, "the hook is still polling"
            clicked = time.perf_counter()
            self.ssm.put_parameter(Name=self.greenlight_parameter, Value="approved", Type="String",
                                   Overwrite=False)
            line = hook.stdout.readline()
            answered = time.perf_counter()
            hook.wait(timeout=10)
            assert json.loads(line)["hookStatus"] == "SUCCEEDED", line
            assert self.parameter(self.greenlight_parameter) is None
            delays.append(answered - clicked)
        recipe = results[("recipe", "approved")]
        cold = statistics.median(recipe["wall"])
        warm = statistics.median(recipe["handler"])
        print()
        print(f"### Click → the hook's answer ({self.decision_runs} clicks at random points of the "
              f"polling cycle; greenlight's polling at its defaults: 2 s interval, 840 s window)")
        print()
        print("| design | median | p90 | max | worst case |")
        print("| --- | ---: | ---: | ---: | --- |")
        print(f"| greenlight, measured: create-only `PutParameter` → `SUCCEEDED` on the hook's stdout | "
              f"**{ms(statistics.median(delays))}** | {ms(percentile(delays, 90))} | "
              f"**{ms(max(delays))}** | one interval (2 s) + one read and the delete, while an "
              f"invocation polls |")
        print(f"| recipe, from its model: ECS invokes it again {30} s after `IN_PROGRESS` | "
              f"15 s + one invocation (≈ {15 + warm:.2f} s warm, {15 + cold:.2f} s cold) | | | "
              f"30 s + one invocation (≈ {30 + warm:.2f} s warm, {30 + cold:.2f} s cold) |")
        print()
        print(f"Target ≤ 2.5 s worst case: greenlight's slowest of {self.decision_runs} was "
              f"{ms(max(delays))} ({'met' if max(delays) <= 2.5 else 'missed'} while an invocation "
              f"polls; see docs/costs.md for the gap between two invocations).")


if __name__ == "__main__":
    Bench().run()
