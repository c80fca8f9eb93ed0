#!/usr/bin/env python3
"""Baseline for the probe client's throughput benchmark: a Python-standard-library threaded client,
the shape of the upstream GSM8K benchmark's (a thread pool, one blocking request per thread).

It sends the same few-shot prompts as `mxguard probe` (5 shots from the file's first lines, then the
first N questions) to POST /generate and scores nothing beyond parsing the JSON answer. Each worker
thread keeps its own keep-alive connection (http.client), the fastest the standard library allows;
urllib would open a connection per request and be slower still.

Prints one line of JSON: {"requests", "seconds", "requests_per_s", "failed"}.
"""
import argparse
import concurrent.futures
import http.client
import json
import threading
import time
import urllib.parse


def load_questions(path):
    items = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                items.append(json.loads(line))
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--num-questions", type=int, default=1000)
    ap.add_argument("--num-shots", type=int, default=5)
    ap.add_argument("--parallel", type=int, default=64)
    args = ap.parse_args()

    items = load_questions(args.data)
    prefix = "".join("Question: " + it["question"] + "\nAnswer: " + it["answer"] + "\n\n"
                     for it in items[: args.num_shots])
    prompts = [prefix + "Question: " + it["question"] + "\nAnswer:" for it in items[: args.num_questions]]
    sampling = {"max_new_tokens": 512, "temperature": 0, "top_p": 1.0, "top_k": -1, "min_p": 0.0,
                "frequency_penalty": 0.0, "presence_penalty": 0.0,
                "stop": ["Question", "Assistant:", "<|separator|>"], "skip_special_tokens": True,
                "ignore_eos": False}
    url = urllib.parse.urlparse(args.base_url)
    local = threading.local()

    def ask(prompt):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        body = json.dumps({"text": prompt, "sampling_params": sampling})
        try:
            conn.request("POST", "/generate", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                return False
            json.loads(data)["text"]
            return True
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            local.conn = None
            return False

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        ok = list(pool.map(ask, prompts))
    seconds = time.perf_counter() - start
    print(json.dumps({"requests": len(prompts), "seconds": seconds, "requests_per_s": len(prompts) / seconds,
                      "failed": ok.count(False)}))


if __name__ == "__main__":
    main()
