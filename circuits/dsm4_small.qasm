OPENQASM 3.0;
include "stdgates.inc";
gate rxx(p0) _gate_q_0, _gate_q_1 {
  h _gate_q_0;
  h _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  rz(p0) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  h _gate_q_1;
  h _gate_q_0;
}
gate sxdg _gate_q_0 {
  s _gate_q_0;
  h _gate_q_0;
  s _gate_q_0;
}
gate ryy(p0) _gate_q_0, _gate_q_1 {
  sxdg _gate_q_0;
  sxdg _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  rz(p0) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  sx _gate_q_0;
  sx _gate_q_1;
}
bit[4] c;
qubit[3] sys;
qubit[3] pur;
h sys[0];
cx sys[0], pur[0];
h sys[1];
cx sys[1], pur[1];
h sys[2];
cx sys[2], pur[2];
ry(-2.1720320042187136) pur[2];
rx(-0.1551378867473853) pur[1];
rxx(0.08617450272772635) pur[2], pur[1];
ryy(0.8410824925648293) pur[2], pur[1];
ry(-0.2564098969124223) pur[1];
rx(-0.7427456002181949) pur[0];
rxx(0.4006010628641284) pur[1], pur[0];
ryy(0.25801309686538765) pur[1], pur[0];
ry(-0.21077500664383902) sys[2];
rx(-0.6453009827605313) sys[1];
rxx(-0.030508990141718068) sys[2], sys[1];
ryy(-1.30426001873482) sys[2], sys[1];
ry(-0.3287593411251835) sys[1];
rx(-0.29912654946239786) sys[0];
rxx(-0.0025916298362436458) sys[1], sys[0];
ryy(-0.04002092314985056) sys[1], sys[0];
c[0] = measure pur[1];
c[1] = measure pur[2];
c[2] = measure sys[1];
c[3] = measure sys[2];
