
Z
fuzz.example/ledgergoal-1€­†Ë"
2026-01-10ª&
G1PL-1Rule of law"
dac515130,application/vnd.accord.statement.v1+protobuf„
@´½ãrvxºôZôZ]:M¹&ÒOû]v¹Ÿ£4²/f¡z3ü8vœ]DÖ_‡$Óîù]9j^û4wq
@34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e