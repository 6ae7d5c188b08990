//! The people and documents the generator draws from: issuing countries with a document each, given names
//! and surnames as printed in the visual zone (with diacritics), in the MRZ (ASCII transliteration) and,
//! where the document carries a second script, in that script under its own locale code.
//!
//! The data is invented; names are common ones of each country so payloads look like real traffic.

/// A name as it appears in the three places a document shows it.
#[derive(Debug, Clone, Copy)]
pub struct Name {
    /// Visual zone, Latin script (`Jānis`).
    pub latin: &'static str,
    /// MRZ transliteration, ASCII upper case (`JANIS`).
    pub mrz: &'static str,
    /// The same name in the document's second script, if it has one (`Γεώργιος`).
    pub native: Option<&'static str>,
}

const fn n(latin: &'static str, mrz: &'static str) -> Name {
    Name {
        latin,
        mrz,
        native: None,
    }
}

const fn s(latin: &'static str, mrz: &'static str, native: &'static str) -> Name {
    Name {
        latin,
        mrz,
        native: Some(native),
    }
}

/// An issuing country with one document template and its people.
#[derive(Debug, Clone, Copy)]
pub struct Country {
    /// ICAO code used for nationality and issuing state (`LVA`, `D` for Germany).
    pub code: &'static str,
    /// Regula-style template name (`Latvia - ID Card (2012)`).
    pub document_name: &'static str,
    /// Category (`Passport`, `Identity Card`, `Driving License`).
    pub document_type: &'static str,
    /// Document class code as read from the MRZ (`P`, `I`, `DL`).
    pub class_code: &'static str,
    /// Whether the document has an NFC chip.
    pub chip: bool,
    /// Locale code and name of the second script, if the document prints one.
    pub locale: Option<(&'static str, &'static str)>,
    /// Calling code for phone-number user ids.
    pub phone_prefix: &'static str,
    /// Given names.
    pub given: &'static [Name],
    /// Surnames.
    pub surnames: &'static [Name],
}

/// Every country the generator uses.
pub const COUNTRIES: &[Country] = &[
    Country {
        code: "LVA",
        document_name: "Latvia - ID Card (2012)",
        document_type: "Identity Card",
        class_code: "I",
        chip: true,
        locale: None,
        phone_prefix: "+371",
        given: &[
            n("Jānis", "JANIS"),
            n("Līga", "LIGA"),
            n("Kārlis", "KARLIS"),
            n("Anna", "ANNA"),
        ],
        surnames: &[
            n("Bērziņš", "BERZINS"),
            n("Kalniņa", "KALNINA"),
            n("Ozols", "OZOLS"),
        ],
    },
    Country {
        code: "POL",
        document_name: "Poland - ePassport (2018)",
        document_type: "Passport",
        class_code: "P",
        chip: true,
        locale: None,
        phone_prefix: "+48",
        given: &[
            n("Łukasz", "LUKASZ"),
            n("Zofia", "ZOFIA"),
            n("Małgorzata", "MALGORZATA"),
            n("Jan", "JAN"),
        ],
        surnames: &[
            n("Wiśniewski", "WISNIEWSKI"),
            n("Kowalska", "KOWALSKA"),
            n("Wójcik", "WOJCIK"),
        ],
    },
    Country {
        code: "D",
        document_name: "Germany - ID Card (2021)",
        document_type: "Identity Card",
        class_code: "I",
        chip: true,
        locale: None,
        phone_prefix: "+49",
        given: &[
            n("Jürgen", "JUERGEN"),
            n("Lena", "LENA"),
            n("Björn", "BJOERN"),
            n("Käthe", "KAETHE"),
        ],
        surnames: &[
            n("Müller", "MUELLER"),
            n("Schäfer", "SCHAEFER"),
            n("Groß", "GROSS"),
        ],
    },
    Country {
        code: "ESP",
        document_name: "Spain - ID Card (2015)",
        document_type: "Identity Card",
        class_code: "I",
        chip: true,
        locale: None,
        phone_prefix: "+34",
        given: &[
            n("Sofía", "SOFIA"),
            n("José", "JOSE"),
            n("Iñigo", "INIGO"),
            n("Lucía", "LUCIA"),
        ],
        surnames: &[
            n("García", "GARCIA"),
            n("Muñoz", "MUNOZ"),
            n("Pérez", "PEREZ"),
        ],
    },
    Country {
        code: "NGA",
        document_name: "Nigeria - ePassport (2019)",
        document_type: "Passport",
        class_code: "P",
        chip: true,
        locale: None,
        phone_prefix: "+234",
        given: &[
            n("Chinedu", "CHINEDU"),
            n("Ngozi", "NGOZI"),
            n("Oluwaseun", "OLUWASEUN"),
        ],
        surnames: &[
            n("Okafor", "OKAFOR"),
            n("Adeyemi", "ADEYEMI"),
            n("Ogunbanjo", "OGUNBANJO"),
        ],
    },
    Country {
        code: "GBR",
        document_name: "United Kingdom - Driving License (2015)",
        document_type: "Driving License",
        class_code: "DL",
        chip: false,
        locale: None,
        phone_prefix: "+44",
        given: &[
            n("Oliver", "OLIVER"),
            n("Siobhán", "SIOBHAN"),
            n("Amelia", "AMELIA"),
        ],
        surnames: &[
            n("Smith", "SMITH"),
            n("O'Brien", "OBRIEN"),
            n("Jones", "JONES"),
        ],
    },
    Country {
        code: "GRC",
        document_name: "Greece - ePassport (2020)",
        document_type: "Passport",
        class_code: "P",
        chip: true,
        locale: Some(("1032", "Greek")),
        phone_prefix: "+30",
        given: &[
            s("Georgios", "GEORGIOS", "Γεώργιος"),
            s("Eleni", "ELENI", "Ελένη"),
            s("Dimitra", "DIMITRA", "Δήμητρα"),
        ],
        surnames: &[
            s("Papadopoulos", "PAPADOPOULOS", "Παπαδόπουλος"),
            s("Nikolaou", "NIKOLAOU", "Νικολάου"),
        ],
    },
    Country {
        code: "BGR",
        document_name: "Bulgaria - ID Card (2010)",
        document_type: "Identity Card",
        class_code: "I",
        chip: false,
        locale: Some(("1026", "Bulgarian")),
        phone_prefix: "+359",
        given: &[
            s("Ivan", "IVAN", "Иван"),
            s("Mariya", "MARIYA", "Мария"),
            s("Dimitar", "DIMITAR", "Димитър"),
        ],
        surnames: &[
            s("Petrov", "PETROV", "Петров"),
            s("Georgieva", "GEORGIEVA", "Георгиева"),
        ],
    },
    Country {
        code: "CHN",
        document_name: "China - ePassport (2012)",
        document_type: "Passport",
        class_code: "P",
        chip: true,
        locale: Some(("2052", "Chinese (Simplified)")),
        phone_prefix: "+86",
        given: &[
            s("Wei", "WEI", "伟"),
            s("Xiuying", "XIUYING", "秀英"),
            s("Jun", "JUN", "军"),
        ],
        surnames: &[
            s("Wang", "WANG", "王"),
            s("Li", "LI", "李"),
            s("Zhang", "ZHANG", "张"),
        ],
    },
    Country {
        code: "VNM",
        document_name: "Viet Nam - Passport (2005)",
        document_type: "Passport",
        class_code: "P",
        chip: false,
        locale: None,
        phone_prefix: "+84",
        given: &[
            n("Hương", "HUONG"),
            n("Đức", "DUC"),
            n("Thị Ánh", "THI ANH"),
        ],
        surnames: &[n("Nguyễn", "NGUYEN"), n("Trần", "TRAN"), n("Phạm", "PHAM")],
    },
    Country {
        code: "TUR",
        document_name: "Turkey - ID Card (2017)",
        document_type: "Identity Card",
        class_code: "I",
        chip: true,
        locale: None,
        phone_prefix: "+90",
        given: &[
            n("Çağlar", "CAGLAR"),
            n("Ayşe", "AYSE"),
            n("Gülşen", "GULSEN"),
        ],
        surnames: &[
            n("Yılmaz", "YILMAZ"),
            n("Öztürk", "OZTURK"),
            n("Şahin", "SAHIN"),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mrz_name_is_ascii_upper_case_and_every_list_is_filled() {
        for c in COUNTRIES {
            assert!(!c.given.is_empty() && !c.surnames.is_empty(), "{}", c.code);
            for name in c.given.iter().chain(c.surnames) {
                assert!(
                    name.mrz
                        .chars()
                        .all(|ch| ch.is_ascii_uppercase() || ch == ' '),
                    "{}",
                    name.mrz
                );
                assert_eq!(name.native.is_some(), c.locale.is_some(), "{}", name.latin);
            }
        }
    }

    #[test]
    fn the_data_carries_non_ascii_names() {
        let non_ascii = COUNTRIES
            .iter()
            .flat_map(|c| c.given.iter().chain(c.surnames))
            .filter(|n| !n.latin.is_ascii() || n.native.is_some())
            .count();
        assert!(non_ascii > 20, "{non_ascii}");
    }
}
