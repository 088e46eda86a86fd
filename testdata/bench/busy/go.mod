module gotv.local/bench/busy

go 1.24
