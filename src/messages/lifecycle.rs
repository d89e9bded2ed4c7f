//! The message lifecycle as a pure state machine (DESIGN §4): which action may be taken,
//! by whom, from which state, and where it leads. No HTTP, no SQL, no clock.

use crate::auth::roles::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Registered,
    Assigned,
    Handling,
    Replied,
    Closed,
    FollowedUp,
    Reported,
    Archived,
}

pub const ALL_STATES: [State; 8] = [
    State::Registered,
    State::Assigned,
    State::Handling,
    State::Replied,
    State::Closed,
    State::FollowedUp,
    State::Reported,
    State::Archived,
];

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Registered => "registered",
            State::Assigned => "assigned",
            State::Handling => "handling",
            State::Replied => "replied",
            State::Closed => "closed",
            State::FollowedUp => "followed_up",
            State::Reported => "reported",
            State::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        ALL_STATES.iter().copied().find(|x| x.as_str() == s)
    }

    /// The one label used on every page, export and print.
    pub fn label(self) -> &'static str {
        match self {
            State::Registered => "已登记",
            State::Assigned => "已转办",
            State::Handling => "办理中",
            State::Replied => "待审核",
            State::Closed => "已办结",
            State::FollowedUp => "已回访",
            State::Reported => "已呈报",
            State::Archived => "已销号",
        }
    }

    /// Whether the handling deadline still runs (assigned, being handled, or awaiting review).
    pub fn deadline_runs(self) -> bool {
        matches!(self, State::Assigned | State::Handling | State::Replied)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Assign,
    Accept,
    Return,
    Forward,
    SubAccept,
    SubReturn,
    Progress,
    DraftReply,
    RequestExtension,
    ApproveExtension,
    RejectExtension,
    Reply,
    Approve,
    Reject,
    Urge,
    Supervise,
    Flag,
    FollowUp,
    Reopen,
    NoReopen,
    Report,
    Archive,
    MarkRepeat,
    Correct,
    Amend,
}

pub const ALL_ACTIONS: [Action; 25] = [
    Action::Assign,
    Action::Accept,
    Action::Return,
    Action::Forward,
    Action::SubAccept,
    Action::SubReturn,
    Action::Progress,
    Action::DraftReply,
    Action::RequestExtension,
    Action::ApproveExtension,
    Action::RejectExtension,
    Action::Reply,
    Action::Approve,
    Action::Reject,
    Action::Urge,
    Action::Supervise,
    Action::Flag,
    Action::FollowUp,
    Action::Reopen,
    Action::NoReopen,
    Action::Report,
    Action::Archive,
    Action::MarkRepeat,
    Action::Correct,
    Action::Amend,
];

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Assign => "assign",
            Action::Accept => "accept",
            Action::Return => "return",
            Action::Forward => "forward",
            Action::SubAccept => "sub_accept",
            Action::SubReturn => "sub_return",
            Action::Progress => "progress",
            Action::DraftReply => "draft_reply",
            Action::RequestExtension => "request_extension",
            Action::ApproveExtension => "approve_extension",
            Action::RejectExtension => "reject_extension",
            Action::Reply => "reply",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Urge => "urge",
            Action::Supervise => "supervise",
            Action::Flag => "flag",
            Action::FollowUp => "follow_up",
            Action::Reopen => "reopen",
            Action::NoReopen => "no_reopen",
            Action::Report => "report",
            Action::Archive => "archive",
            Action::MarkRepeat => "mark_repeat",
            Action::Correct => "correct",
            Action::Amend => "amend",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        ALL_ACTIONS.iter().copied().find(|a| a.as_str() == s)
    }

    /// The Chinese action name, as on the buttons (UI.md vocabulary).
    pub fn label(self) -> &'static str {
        match self {
            Action::Assign => "转办",
            Action::Accept => "签收",
            Action::Return => "退回",
            Action::Forward => "下转",
            Action::SubAccept => "下转签收",
            Action::SubReturn => "退回县（区）",
            Action::Progress => "办理进展",
            Action::DraftReply => "报送答复稿",
            Action::RequestExtension => "延期申请",
            Action::ApproveExtension => "批准延期",
            Action::RejectExtension => "驳回延期",
            Action::Reply => "答复",
            Action::Approve => "审核通过",
            Action::Reject => "驳回重办",
            Action::Urge => "催办",
            Action::Supervise => "督办",
            Action::Flag => "挂牌督办",
            Action::FollowUp => "回访",
            Action::Reopen => "重办",
            Action::NoReopen => "不再重办",
            Action::Report => "呈报",
            Action::Archive => "销号",
            Action::MarkRepeat => "标记重复件",
            Action::Correct => "补正",
            Action::Amend => "更正",
        }
    }

    pub fn is_supervision(self) -> bool {
        matches!(self, Action::Urge | Action::Supervise | Action::Flag)
    }
}

/// How the acting user stands to the message. Computed by the authorization layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// The user's unit owns the message and the user may act for it.
    pub owner: bool,
    /// The user's unit is the handling unit and the user may act for it.
    pub handler: bool,
    /// The handling unit is a county that may forward to its sub-units.
    pub handler_may_forward: bool,
    /// The user's unit is the sub-unit the message was forwarded to.
    pub forwardee: bool,
    /// A city-centre operator: may supervise any message.
    pub centre: bool,
}

impl Standing {
    /// Derive the standing from role and units (`None` ids: not set on the message).
    pub fn of(
        role: Role,
        user_unit: i32,
        owner_unit: i32,
        handling_unit: Option<i32>,
        forwarded_unit: Option<i32>,
    ) -> Standing {
        let operator = matches!(role, Role::CityOperator | Role::CountyOperator);
        let handler_role = matches!(role, Role::CountyOperator | Role::DeptOperator);
        Standing {
            owner: operator && user_unit == owner_unit,
            handler: handler_role && handling_unit == Some(user_unit),
            handler_may_forward: role == Role::CountyOperator && handling_unit == Some(user_unit),
            forwardee: role == Role::DeptOperator && forwarded_unit == Some(user_unit),
            centre: role == Role::CityOperator,
        }
    }
}

/// Facts about the message beyond its state that some actions depend on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub extension_pending: bool,
    /// Forwarded (下转) to a county's sub-unit, and whether that sub-unit has 签收'd it.
    pub forwarded: bool,
    pub forward_accepted: bool,
    /// The last 回访 was 不满意, and whether the owner recorded 不再重办 since.
    pub dissatisfied: bool,
    pub no_reopen: bool,
    /// A 重复件 handled together with its original (并案办理) until the original is
    /// 办结: it moves only with the original, and only its elements may be 补正'd.
    pub following: bool,
}

/// Where an action leads from a state, regardless of who takes it (`None`: not from here).
pub fn transition(action: Action, from: State, facts: Facts) -> Option<State> {
    use Action as A;
    use State as S;
    if facts.following && action != A::Correct {
        return None;
    }
    match (action, from) {
        (A::Assign, S::Registered) => Some(S::Assigned),
        (A::Accept, S::Assigned) => Some(S::Handling),
        (A::Return, S::Assigned) => Some(S::Registered),
        (A::Forward | A::Progress, S::Handling) => Some(S::Handling),
        // The sub-unit 签收s what was forwarded to it, or 退回s it to the county first.
        (A::SubAccept | A::SubReturn, S::Handling)
            if facts.forwarded && !facts.forward_accepted =>
        {
            Some(S::Handling)
        }
        (A::DraftReply, S::Handling) if facts.forward_accepted => Some(S::Handling),
        (A::RequestExtension, S::Handling) if !facts.extension_pending => Some(S::Handling),
        (A::ApproveExtension | A::RejectExtension, S::Handling) if facts.extension_pending => {
            Some(S::Handling)
        }
        (A::Reply, S::Handling) => Some(S::Replied),
        (A::Approve, S::Replied) => Some(S::Closed),
        (A::Reject, S::Replied) => Some(S::Handling),
        (A::Urge | A::Supervise | A::Flag, s) if s.deadline_runs() => Some(s),
        (A::FollowUp, S::Closed) => Some(S::FollowedUp),
        // 不满意 is 重办'd, or the owner records why not, before it can be 呈报'd.
        (A::Reopen, S::FollowedUp) if facts.dissatisfied => Some(S::Handling),
        (A::NoReopen, S::FollowedUp) if facts.dissatisfied && !facts.no_reopen => {
            Some(S::FollowedUp)
        }
        (A::Report, S::FollowedUp) if !facts.dissatisfied || facts.no_reopen => Some(S::Reported),
        (A::Archive, S::Reported) => Some(S::Archived),
        // 重复件: closed with a reference to the earlier message it repeats.
        (A::MarkRepeat, S::Registered) => Some(S::Closed),
        (A::Correct, s) if s != S::Archived => Some(s),
        (A::Amend, S::Archived) => Some(S::Archived),
        _ => None,
    }
}

/// 并案办理: the state a 重复件 takes when it joins its original, which must still be
/// handled (转办'd and not yet 办结); otherwise it can only be closed with a reference.
pub fn merged_state(original: State) -> Option<State> {
    original.deadline_runs().then_some(original)
}

/// The original's actions that carry its 并案 repeats along (the same step, the same
/// fields) until it is 办结; after that each message is followed up, 呈报'd and archived
/// on its own.
pub fn carries_followers(action: Action) -> bool {
    use Action as A;
    matches!(
        action,
        A::Assign
            | A::Accept
            | A::Return
            | A::Forward
            | A::SubAccept
            | A::SubReturn
            | A::ApproveExtension
            | A::Reply
            | A::Approve
            | A::Reject
    )
}

/// Whether the standing allows the action (regardless of state). A sub-unit works on a
/// forwarded message once it has 签收'd it.
pub fn who_may(action: Action, s: Standing, f: Facts) -> bool {
    use Action as A;
    match action {
        A::Assign
        | A::ApproveExtension
        | A::RejectExtension
        | A::Approve
        | A::Reject
        | A::FollowUp
        | A::Reopen
        | A::NoReopen
        | A::Report
        | A::Archive
        | A::MarkRepeat
        | A::Amend => s.owner,
        A::Accept | A::Return | A::RequestExtension | A::Reply => s.handler,
        // Which elements each may correct is `correction::correctable`.
        A::Correct => s.owner || s.handler,
        A::Forward => s.handler && s.handler_may_forward,
        A::SubAccept | A::SubReturn => s.forwardee,
        A::Progress => s.handler || (s.forwardee && f.forward_accepted),
        A::DraftReply => s.forwardee,
        A::Urge | A::Supervise | A::Flag => s.owner || s.centre,
    }
}

/// Why an action was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The user may not take this action on this message at all.
    NotYours,
    /// Not from the message's current state.
    WrongState,
}

/// Check an action: the state it leads to, or why not.
pub fn check(
    action: Action,
    state: State,
    standing: Standing,
    facts: Facts,
) -> Result<State, Refusal> {
    if !who_may(action, standing, facts) {
        return Err(Refusal::NotYours);
    }
    transition(action, state, facts).ok_or(Refusal::WrongState)
}

/// Every action the user may take now, in a stable order.
pub fn available(state: State, standing: Standing, facts: Facts) -> Vec<Action> {
    ALL_ACTIONS
        .iter()
        .copied()
        .filter(|a| check(*a, state, standing, facts).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use State as S;

    /// Who, as named in DESIGN §4.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Who {
        Owner,
        Handler,
        CountyHandler,
        Forwardee,
        Centre,
        Leader,
        Stranger,
    }

    const ALL_WHO: [Who; 7] = [
        Who::Owner,
        Who::Handler,
        Who::CountyHandler,
        Who::Forwardee,
        Who::Centre,
        Who::Leader,
        Who::Stranger,
    ];

    fn standing(w: Who) -> Standing {
        // Units: 1 = city centre (owner), 2 = county (handler), 3 = department, 4 = town.
        match w {
            Who::Owner => Standing::of(Role::CountyOperator, 9, 9, Some(3), None),
            Who::Handler => Standing::of(Role::DeptOperator, 3, 1, Some(3), None),
            Who::CountyHandler => Standing::of(Role::CountyOperator, 2, 1, Some(2), Some(4)),
            Who::Forwardee => Standing::of(Role::DeptOperator, 4, 1, Some(2), Some(4)),
            Who::Centre => Standing::of(Role::CityOperator, 1, 9, Some(3), None),
            Who::Leader => Standing::of(Role::CityLeader, 1, 1, Some(3), None),
            Who::Stranger => Standing::of(Role::DeptOperator, 5, 1, Some(3), None),
        }
    }

    /// The specification table: (action, from state, who) → to state.
    fn allowed(a: Action, s: State, w: Who, f: Facts) -> Option<State> {
        let handler = matches!(w, Who::Handler | Who::CountyHandler);
        let owner = w == Who::Owner;
        // A 并案 repeat moves only with its original; its elements stay correctable.
        if f.following && a != A::Correct {
            return None;
        }
        match (a, s) {
            (A::Assign, S::Registered) if owner => Some(S::Assigned),
            (A::Accept, S::Assigned) if handler => Some(S::Handling),
            (A::Return, S::Assigned) if handler => Some(S::Registered),
            (A::Forward, S::Handling) if w == Who::CountyHandler => Some(S::Handling),
            (A::SubAccept | A::SubReturn, S::Handling)
                if w == Who::Forwardee && f.forwarded && !f.forward_accepted =>
            {
                Some(S::Handling)
            }
            (A::Progress, S::Handling)
                if handler || (w == Who::Forwardee && f.forward_accepted) =>
            {
                Some(S::Handling)
            }
            (A::DraftReply, S::Handling) if w == Who::Forwardee && f.forward_accepted => {
                Some(S::Handling)
            }
            (A::RequestExtension, S::Handling) if handler && !f.extension_pending => {
                Some(S::Handling)
            }
            (A::ApproveExtension | A::RejectExtension, S::Handling)
                if owner && f.extension_pending =>
            {
                Some(S::Handling)
            }
            (A::Reply, S::Handling) if handler => Some(S::Replied),
            (A::Approve, S::Replied) if owner => Some(S::Closed),
            (A::Reject, S::Replied) if owner => Some(S::Handling),
            (A::Urge | A::Supervise | A::Flag, S::Assigned | S::Handling | S::Replied)
                if owner || w == Who::Centre =>
            {
                Some(s)
            }
            (A::FollowUp, S::Closed) if owner => Some(S::FollowedUp),
            (A::Reopen, S::FollowedUp) if owner && f.dissatisfied => Some(S::Handling),
            (A::NoReopen, S::FollowedUp) if owner && f.dissatisfied && !f.no_reopen => {
                Some(S::FollowedUp)
            }
            (A::Report, S::FollowedUp) if owner && (!f.dissatisfied || f.no_reopen) => {
                Some(S::Reported)
            }
            (A::Archive, S::Reported) if owner => Some(S::Archived),
            (A::MarkRepeat, S::Registered) if owner => Some(S::Closed),
            (A::Correct, s) if s != S::Archived && (owner || handler) => Some(s),
            (A::Amend, S::Archived) if owner => Some(S::Archived),
            _ => None,
        }
    }

    #[test]
    fn every_action_state_and_standing_combination() {
        let mut allowed_count = 0;
        let mut refused_count = 0;
        for bits in 0..64u8 {
            let f = Facts {
                extension_pending: bits & 1 != 0,
                forwarded: bits & 2 != 0,
                forward_accepted: bits & 4 != 0,
                dissatisfied: bits & 8 != 0,
                no_reopen: bits & 16 != 0,
                following: bits & 32 != 0,
            };
            for a in ALL_ACTIONS {
                for s in ALL_STATES {
                    for w in ALL_WHO {
                        let got = check(a, s, standing(w), f).ok();
                        assert_eq!(
                            got,
                            allowed(a, s, w, f),
                            "{a:?} from {s:?} by {w:?} ({f:?})"
                        );
                        if got.is_some() {
                            allowed_count += 1;
                        } else {
                            refused_count += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(allowed_count + refused_count, 64 * 25 * 8 * 7);
        assert!(allowed_count > 40);
    }

    #[test]
    fn a_repeat_joins_only_an_original_still_in_hand_and_stops_following_at_its_close() {
        for s in ALL_STATES {
            let joins = matches!(s, S::Assigned | S::Handling | S::Replied);
            assert_eq!(merged_state(s), joins.then_some(s), "{s:?}");
        }
        // What carries the repeats along starts before 办结 (回访, 重办, 呈报, 销号 are
        // each message's own), and the step to 办结 is among it.
        let facts = [
            Facts::default(),
            Facts {
                extension_pending: true,
                forwarded: true,
                ..Facts::default()
            },
        ];
        for a in ALL_ACTIONS.into_iter().filter(|a| carries_followers(*a)) {
            for s in ALL_STATES {
                if facts.iter().any(|f| transition(a, s, *f).is_some()) {
                    assert!(
                        matches!(s, S::Registered) || s.deadline_runs(),
                        "{a:?} {s:?}"
                    );
                }
            }
        }
        assert!(carries_followers(A::Approve) && carries_followers(A::Reply));
        assert!(!carries_followers(A::Correct) && !carries_followers(A::Urge));
    }

    #[test]
    fn leaders_admins_and_strangers_can_do_nothing() {
        for role in [
            Role::CityLeader,
            Role::SysAdmin,
            Role::SecAdmin,
            Role::AuditAdmin,
        ] {
            let st = Standing::of(role, 1, 1, Some(1), Some(1));
            for s in ALL_STATES {
                assert!(
                    available(s, st, Facts::default()).is_empty(),
                    "{role:?} {s:?}"
                );
            }
        }
        for s in ALL_STATES {
            assert!(available(s, standing(Who::Stranger), Facts::default()).is_empty());
        }
    }

    #[test]
    fn archived_messages_only_take_amendments() {
        assert_eq!(
            available(S::Archived, standing(Who::Owner), Facts::default()),
            vec![A::Amend]
        );
        assert!(available(S::Archived, standing(Who::Handler), Facts::default()).is_empty());
    }

    #[test]
    fn the_happy_path_reaches_archived() {
        let owner = standing(Who::Owner);
        let handler = standing(Who::Handler);
        let f = Facts::default();
        let mut s = S::Registered;
        for (a, who) in [
            (A::Assign, owner),
            (A::Accept, handler),
            (A::Reply, handler),
            (A::Approve, owner),
            (A::FollowUp, owner),
            (A::Report, owner),
            (A::Archive, owner),
        ] {
            s = check(a, s, who, f).expect("allowed");
        }
        assert_eq!(s, S::Archived);
    }

    #[test]
    fn names_round_trip() {
        for a in ALL_ACTIONS {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for s in ALL_STATES {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
