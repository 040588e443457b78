//! The settings value objects: each parses and validates, reporting against its field.

use chrono_tz::Tz;

use crate::error::{Error, FieldError, Rule};

/// An IANA time zone name (such as `Europe/Paris`), checked against the bundled database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneName(Tz);

impl TimeZoneName {
    /// Parses `raw`, exactly as the IANA database spells it.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        raw.parse::<Tz>().map(Self).map_err(|_| FieldError::new("timezone", Rule::UnknownTimeZone))
    }

    /// The zone, for date arithmetic.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The zone's IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Every name [`Self::parse`] accepts, links such as `US/Eastern` included: what an API
    /// description can offer as the field's choices.
    pub fn every_name() -> impl Iterator<Item = &'static str> {
        chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        Self(Tz::UTC)
    }
}

/// How many days after today a digest looks ahead: 0–30.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderDays(u32);

impl ReminderDays {
    /// The most days a digest may look ahead; a month keeps a digest short.
    pub const MAX: u32 = 30;

    /// Validates `raw`.
    pub fn parse(raw: i64) -> Result<Self, FieldError> {
        match u32::try_from(raw) {
            Ok(days) if days <= Self::MAX => Ok(Self(days)),
            _ => Err(FieldError::new("reminder_days", Rule::Range { min: 0, max: Some(Self::MAX.into()) })),
        }
    }

    /// The number of days.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The local hour at which a digest is sent: 0–23.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderHour(u32);

impl ReminderHour {
    /// Validates `raw`.
    pub fn parse(raw: i64) -> Result<Self, FieldError> {
        match u32::try_from(raw) {
            Ok(hour) if hour <= 23 => Ok(Self(hour)),
            _ => Err(FieldError::new("reminder_hour", Rule::Range { min: 0, max: Some(23) })),
        }
    }

    /// The hour.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// A user's reminder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderSettings {
    /// The zone the user's days and hours are counted in.
    pub timezone: TimeZoneName,
    /// Whether digests are sent at all.
    pub birthday_reminders: bool,
    /// Days looked ahead after today.
    pub reminder_days: ReminderDays,
    /// Local hour of the digest.
    pub reminder_hour: ReminderHour,
}

impl Default for ReminderSettings {
    /// UTC, on, one day ahead, at 8: what a new account gets.
    fn default() -> Self {
        Self {
            timezone: TimeZoneName::default(),
            birthday_reminders: true,
            reminder_days: ReminderDays(1),
            reminder_hour: ReminderHour(8),
        }
    }
}

/// The value of `result`, or `None` with its problem added to `problems`.
fn keep<V>(result: Result<V, FieldError>, problems: &mut Vec<FieldError>) -> Option<V> {
    result.map_err(|problem| problems.push(problem)).ok()
}

/// A partial change of the settings: only the fields present change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    /// New time zone.
    pub timezone: Option<TimeZoneName>,
    /// New on/off.
    pub birthday_reminders: Option<bool>,
    /// New days ahead.
    pub reminder_days: Option<ReminderDays>,
    /// New hour.
    pub reminder_hour: Option<ReminderHour>,
}

/// A settings change as a client sent it: raw values, each optional. [`SettingsPatch::parse`]
/// checks them all at once, so one answer names every field that is wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsInput {
    /// An IANA time zone name.
    pub timezone: Option<String>,
    /// On or off.
    pub birthday_reminders: Option<bool>,
    /// Days ahead, 0–30.
    pub reminder_days: Option<i64>,
    /// Local hour, 0–23.
    pub reminder_hour: Option<i64>,
}

impl SettingsPatch {
    /// Validates every field of `input`; `Error::Invalid` lists each one that is wrong.
    pub fn parse(input: SettingsInput) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let patch = Self {
            timezone: input.timezone.and_then(|raw| keep(TimeZoneName::parse(&raw), &mut problems)),
            birthday_reminders: input.birthday_reminders,
            reminder_days: input.reminder_days.and_then(|raw| keep(ReminderDays::parse(raw), &mut problems)),
            reminder_hour: input.reminder_hour.and_then(|raw| keep(ReminderHour::parse(raw), &mut problems)),
        };
        if problems.is_empty() { Ok(patch) } else { Err(Error::Invalid(problems)) }
    }

    /// `settings` with this patch applied.
    pub fn apply(self, settings: ReminderSettings) -> ReminderSettings {
        ReminderSettings {
            timezone: self.timezone.unwrap_or(settings.timezone),
            birthday_reminders: self.birthday_reminders.unwrap_or(settings.birthday_reminders),
            reminder_days: self.reminder_days.unwrap_or(settings.reminder_days),
            reminder_hour: self.reminder_hour.unwrap_or(settings.reminder_hour),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(TimeZoneName::parse("Europe/Paris").unwrap().name(), "Europe/Paris");
        assert_eq!(TimeZoneName::parse("UTC").unwrap(), TimeZoneName::default());
        for bad in ["", "Mars/Olympus", "europe/paris ", "+02:00"] {
            assert_eq!(TimeZoneName::parse(bad).unwrap_err().field(), "timezone", "{bad:?}");
        }
    }

    #[test]
    fn every_listed_name_parses_back_to_itself() {
        let names: Vec<&str> = TimeZoneName::every_name().collect();
        assert!(names.len() > 400 && names.contains(&"Europe/Paris") && names.contains(&"UTC"), "{}", names.len());
        for name in names {
            assert_eq!(TimeZoneName::parse(name).map(TimeZoneName::name), Ok(name));
        }
    }

    #[test]
    fn days_and_hours_have_ranges() {
        assert_eq!(ReminderDays::parse(0).unwrap().get(), 0);
        assert_eq!(ReminderDays::parse(30).unwrap().get(), 30);
        assert_eq!(ReminderDays::parse(31).unwrap_err().field(), "reminder_days");
        assert!(ReminderDays::parse(-1).is_err());
        assert_eq!(ReminderHour::parse(23).unwrap().get(), 23);
        assert_eq!(ReminderHour::parse(24).unwrap_err().field(), "reminder_hour");
        assert!(ReminderHour::parse(-1).is_err());
    }

    #[test]
    fn a_patch_changes_only_what_it_carries() {
        let patch = SettingsPatch { reminder_hour: Some(ReminderHour::parse(6).unwrap()), ..Default::default() };
        let changed = patch.apply(ReminderSettings::default());
        assert_eq!(changed.reminder_hour.get(), 6);
        assert_eq!(changed.reminder_days.get(), 1);
        assert!(changed.birthday_reminders);
    }

    #[test]
    fn parsing_a_change_names_every_wrong_field() {
        let input = SettingsInput {
            timezone: Some("Mars/Olympus".into()),
            birthday_reminders: Some(false),
            reminder_days: Some(31),
            reminder_hour: Some(7),
        };
        let Err(Error::Invalid(problems)) = SettingsPatch::parse(input) else { panic!("accepted") };
        let fields: Vec<String> = problems.iter().map(FieldError::field).collect();
        assert_eq!(fields, ["timezone", "reminder_days"]);

        let patch = SettingsPatch::parse(SettingsInput {
            timezone: Some("Asia/Tokyo".into()),
            reminder_hour: Some(0),
            ..SettingsInput::default()
        })
        .unwrap();
        assert_eq!(patch.timezone.map(TimeZoneName::name), Some("Asia/Tokyo"));
        assert_eq!(patch.reminder_hour.map(ReminderHour::get), Some(0));
        assert_eq!((patch.birthday_reminders, patch.reminder_days), (None, None));
        assert_eq!(SettingsPatch::parse(SettingsInput::default()).unwrap(), SettingsPatch::default());
    }
}
