-- Why a schedule did not start is kept as a reason code plus parameters, said in the reader's
-- language by the UI and API (it was English text). Earlier rows are mapped to the codes.
alter table scheduled_mailings add column error_params jsonb;
update scheduled_mailings set error = case
    when error = 'mailing deleted' then 'mailing_deleted'
    when error = 'the mailing is a draft again' then 'draft_again'
    -- describe() wrote an AppError as "<code>" or "<code> (<path>: <issue>, …)".
    when error ~ '^[a-z_]+( \(|$)' then split_part(error, ' ', 1)
    else 'start_failed'
  end
where error is not null;
