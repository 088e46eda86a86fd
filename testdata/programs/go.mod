module gotvtestdata

go 1.19
