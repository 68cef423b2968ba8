#ifndef SWIFT_SPDY_FUZZ_DICTIONARIES_H
#define SWIFT_SPDY_FUZZ_DICTIONARIES_H

extern const unsigned char cfuzz_spdy2_dictionary[907];
extern const unsigned long cfuzz_spdy2_dictionary_length;
extern const unsigned char cfuzz_spdy3_dictionary[1423];
extern const unsigned long cfuzz_spdy3_dictionary_length;

#endif
