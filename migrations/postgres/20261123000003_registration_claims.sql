-- R8: a nomor induk is unique within its kabupaten/kota. The claim is inserted in the same
-- transaction as the RegistrationNumberAssigned event, so it exists exactly when the event does.
CREATE TABLE registration_claims
(
    regency      text   NOT NULL,
    number       text   NOT NULL,
    community_id text   NOT NULL,
    sequence     bigint NOT NULL,
    PRIMARY KEY (regency, number)
);
