//! The board top: the network top behind a UART shell, clock and reset. (Being written.)
