-- R8: a nomor induk is unique within its kabupaten/kota; claimed in the event's transaction.
CREATE TABLE registration_claims
(
  regency      text    NOT NULL,
  number       text    NOT NULL,
  community_id text    NOT NULL,
  sequence     integer NOT NULL,
  PRIMARY KEY (regency, number)
) STRICT;
