//! PLL instances (iCE40 SB_PLL40, ECP5 EHXPLLL) that multiply a board clock to the design clock. (Being written.)
