module gotv.local/bench/shapes

go 1.24
