// SPDX-License-Identifier: MIT
// The README's "Recording requests": an inference server records every
// request on its own threads; a collector turns the per-thread counters into
// windows and snapshots. Built and run as a test.
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <canarygate/record.hpp>

int main() {
    // --8<-- [start:record]
    canarygate::recorder rec;  // shards allocated once, up front
    const auto baseline = rec.add_arm("baseline", "sha256:9f00");
    const auto candidate = rec.add_arm("candidate", "sha256:ab12");
    canarygate::collector<canarygate::recorder> collector(rec);  // system clock; slots of 10 s,
    collector.start();                                           // windows of 5 and 15 min

    // request thread, after the response (wait-free, no allocation, no clock read):
    canarygate::request_outcome r;
    r.latency_ns = 734'000'000;
    r.ttft_ns = 81'000'000;
    r.input_tokens = 812;
    r.output_tokens = 245;
    r.cost_nano_usd = 1'930'000;  // see record/pricing.hpp
    r.category = canarygate::outcome::ok;
    rec.record(candidate, r);

    // controller, at any cadence:
    collector.tick();  // (the background thread ticks every second; here, now)
    std::shared_ptr<const canarygate::collector_snapshots> s = collector.latest();
    // s->windows[0]: the last 5 minutes, s->cumulative: everything since start
    // --8<-- [end:record]

    // Four request threads, 1,000 requests each, half to each arm.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            canarygate::request_outcome o = r;
            for (int i = 0; i < 1000; ++i) rec.record((i + t) % 2 == 0 ? baseline : candidate, o);
        });
    }
    for (auto& t : threads) t.join();
    collector.tick();
    collector.stop();
    s = collector.latest();
    const auto requests = [&](const char* arm) {
        return s->cumulative.find_arm(arm)->counter(canarygate::series::requests).low;
    };
    std::printf("recorded: baseline %llu, candidate %llu requests\n",
                static_cast<unsigned long long>(requests("baseline")),
                static_cast<unsigned long long>(requests("candidate")));
    return requests("baseline") == 2000 && requests("candidate") == 2001 ? 0 : 1;
}
