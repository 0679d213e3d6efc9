//! Block-RAM contents swapped in a finished bitstream (icebram / ecpbram). (Being written.)
