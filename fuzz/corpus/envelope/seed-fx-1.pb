
l
fuzz.example/ledgerfx-1€‹»Ë"
2026-01-20Ò:
EURUSD1.085"
2026-01-20*
rate table2daily_reference,application/vnd.accord.statement.v1+protobuf„
@ f]$¥}ˆ'ë˜År]ßÊ`ñpWžñ²°(¬‹Ö;ÜVÍhÀ+{Ýä"ç*—Yê&`’û¾Öu²Ü2_Øë´O	@c5b940ed3f65c391965de8295fc5d25f474fa57b48d36eb10ad363b8539c1b79