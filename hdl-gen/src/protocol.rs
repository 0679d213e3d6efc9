//! Host ↔ board serial protocol (frames, CRC): the one encoder/decoder shared by the board shell tests and the host driver. (Being written.)
