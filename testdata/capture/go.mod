module gotvcapture

go 1.21
