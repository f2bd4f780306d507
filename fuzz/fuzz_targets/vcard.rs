//! Feeds arbitrary bytes to the vCard reader: nothing may panic, and every card it accepts,
//! written back out, reads again as one good card.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rolo_domain::vcard::{self, Format, VCardVersion};

fuzz_target!(|data: &[u8]| {
    let text = vcard::decode_bytes(data);
    for record in vcard::read(&text, Format::VCard).into_iter().flatten() {
        for version in [VCardVersion::V3, VCardVersion::V4] {
            let written = vcard::write_vcard(&record.data, "fuzz", None, version);
            let again = vcard::read(&written, Format::VCard);
            assert_eq!(again.len(), 1, "{written}");
            assert!(again[0].is_ok(), "{written}: {:?}", again[0]);
        }
    }
});
