module slotscaler.dev/bench/loadgen

go 1.22
